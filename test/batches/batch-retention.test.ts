import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { Type } from 'typebox'
import { defineJob } from '../../src/core/define-job.ts'
import type { BatchView } from '../../src/schemas/batch.ts'
import { AUTH, build, startJob, untilAborted, waitForState } from '../helper.ts'
import { listen } from '../sse/fixtures.ts'
import { sendBatch, waitForBatch } from './batch-fixtures.ts'

const DAY = 86_400_000
const csv = (i: number): { name: string, body: string } => ({ name: `f${i}.csv`, body: 'a,b\n1,2\n' })

test('retention deletes an ended batch with every child, their files and deliveries; a live batch keeps its early-failed child', async (t) => {
  // Holds every child until canceled: a batch that is still running when the sweep comes.
  const held = defineJob({
    type: 'held',
    input: Type.Object({}),
    files: { min: 1, max: 1, maxBytes: 1e6, accept: ['.csv'] },
    async run (ctx) { await untilAborted(ctx.signal); return null }
  })
  const app = await build(t, { retentionDays: 7, shutdownGraceMs: 0 }, [held])
  const base = await listen(app)
  const { store, retention } = app.jobcast.service
  const dataDir = app.jobcast.config.dataDir
  const folder = (id: string): string => join(dataDir, 'files', id)

  const endedRes = await sendBatch(base, 'documents', [csv(0), csv(1), { name: 'x.bin', body: Buffer.from([0, 1, 2]) }], { notify: { email: 'alice@example.com' } })
  t.equal(endedRes.status, 202)
  const ended = await endedRes.json() as BatchView
  await waitForBatch(app, 'alice', ended.id, (b) => b.done)
  // The delivery is written in the commit that ends the batch (it fails: email is off here).
  t.equal((await store.deliveries(ended.id)).length, 1, 'the ended batch has its delivery')
  const endedChildren = ended.jobs.map((j) => j.id)
  t.ok(endedChildren.every((id) => existsSync(folder(id))), 'its children have files')

  const liveRes = await sendBatch(base, 'held', [csv(0), { name: 'notes.txt', body: 'not a csv' }])
  const live = await liveRes.json() as BatchView
  t.match(live.jobs.map((j) => j.state), ['queued', 'failed'])
  const earlyFailed = live.jobs[1]!.id
  await waitForState(app, 'alice', live.jobs[0]!.id, 'running')

  const single = await startJob(app, 'alice', 'sleep', { seconds: 0, steps: 1 })
  await waitForState(app, 'alice', single.id, 'completed')

  t.equal(await retention.sweep(Date.now() + 6 * DAY), 0, 'nothing is older than 7 days yet')
  t.equal(await retention.sweep(Date.now() + 8 * DAY), endedChildren.length + 1, 'the ended batch\'s 3 children and the single job')

  const get = async (path: string): Promise<number> => (await fetch(`${base}${path}`, { headers: AUTH.alice })).status
  t.equal(await get(`/api/batches/${ended.id}`), 404, 'the ended batch is gone')
  t.same((await app.jobcast.service.batches.list('alice', { limit: 10 })).items.map((b) => b.id), [live.id], 'only the live batch is listed')
  for (const id of endedChildren) {
    t.equal(await store.get(id), undefined, `child ${id} is gone`)
    t.notOk(existsSync(folder(id)), `child ${id}'s files are gone`)
  }
  t.same(await store.deliveries(ended.id), [], 'the batch\'s deliveries are gone')
  t.equal(await store.get(single.id), undefined, 'the single job is gone')

  t.equal((await store.get(earlyFailed))?.state, 'failed', 'the live batch\'s early-failed child is kept')
  t.ok(existsSync(folder(earlyFailed)), 'with its file')
  const kept = await (await fetch(`${base}/api/batches/${live.id}`, { headers: AUTH.alice })).json() as BatchView
  t.match(kept, { total: 2, running: 1, failed: 1 }, 'the live batch still adds up')
})
