import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'tap'
import { Type } from 'typebox'
import { defineJob } from '../../src/core/define-job.ts'
import type { BatchView } from '../../src/schemas/batch.ts'
import { build, untilAborted } from '../helper.ts'
import { Gate, listen } from '../sse/fixtures.ts'
import { getBatch, sendBatch, waitForBatch } from './batch-fixtures.ts'

async function filesLeft (dataDir: string): Promise<string[]> {
  try {
    return await readdir(join(dataDir, 'files'))
  } catch {
    return []
  }
}

const csv = (i: number, bytes = 20): { name: string, body: string } => ({ name: `f${i}.csv`, body: `a,b\n${'1,2\n'.repeat(Math.ceil(bytes / 4))}` })

test('limits: too many files, a file too large, a batch too large: 413 naming the limit, before any child, nothing on disk', async (t) => {
  const app = await build(t, { batchMaxFiles: 3, batchMaxFileBytes: 1000, batchMaxBytes: 2500 })
  const base = await listen(app)
  const dataDir = app.jobcast.config.dataDir
  for (const [what, files, code, limit] of [
    ['too many files', [csv(1), csv(2), csv(3), csv(4)], 'BATCH_TOO_MANY_FILES', 'JOBCAST_BATCH_MAX_FILES'],
    ['a file too large', [csv(1), csv(2, 2000)], 'BATCH_FILE_TOO_LARGE', 'JOBCAST_BATCH_MAX_FILE_BYTES'],
    ['a batch too large', [csv(1, 900), csv(2, 900), csv(3, 900)], 'BATCH_TOO_LARGE', 'JOBCAST_BATCH_MAX_BYTES']
  ] as const) {
    const res = await sendBatch(base, 'documents', files)
    t.equal(res.status, 413, `${what}: 413`)
    const body = await res.json() as { code: string, message: string, statusCode: number }
    t.equal(body.code, code, what)
    t.match(body.message, limit, `${what}: the message names ${limit}`)
    t.same(await filesLeft(dataDir), [], `${what}: no file left behind`)
  }
  t.same((await app.jobcast.list('alice')).items, [], 'no child was created')
  t.same((await app.jobcast.service.batches.list('alice', { limit: 10 })).items, [], 'no batch was created')
  const ok = await sendBatch(base, 'documents', [csv(1), csv(2), csv(3)])
  t.equal(ok.status, 202, 'at the limits: accepted')
})

test('cancel mid-batch: unfinished children canceled, finished ones keep their results, the aggregate adds up', async (t) => {
  const gate = new Gate()
  const held = defineJob({
    type: 'held',
    input: Type.Object({}),
    files: { min: 1, max: 1, maxBytes: 1e6 },
    concurrency: 2,
    async run (ctx) {
      const index = Number(/f(\d+)/.exec(ctx.files[0]!.name)![1])
      if (index >= 3) await untilAborted(ctx.signal)
      await gate.wait()
      return { index }
    }
  })
  const app = await build(t, {}, [held])
  const base = await listen(app)
  const res = await sendBatch(base, 'held', Array.from({ length: 10 }, (_, i) => csv(i)))
  t.equal(res.status, 202)
  const { id } = await res.json() as BatchView
  gate.release(3)
  await waitForBatch(app, 'alice', id, (b) => b.completed === 3 && b.running === 2)
  const cancel = await fetch(`${base}/api/batches/${id}/cancel`, { method: 'POST', headers: { authorization: 'Bearer token-alice-0001' } })
  t.equal(cancel.status, 200)
  const after = await cancel.json() as BatchView
  t.match(after, { total: 10, queued: 0, running: 0, completed: 3, failed: 0, canceled: 7, done: true, succeeded: false, percent: 100 })
  t.equal(after.completed + after.failed + after.canceled, after.total, 'the aggregate adds up')
  t.same(after.jobs.slice(0, 3).map((j) => j.result), [{ index: 0 }, { index: 1 }, { index: 2 }], 'finished children keep their results')
  t.ok(after.jobs.slice(3).every((j) => j.state === 'canceled' && j.error?.code === 'CANCELED'))
  t.ok((await getBatch(base, id)).finishedAt !== null, 'the batch ended')
  const progress = await (await fetch(`${base}/api/progress`, { headers: { authorization: 'Bearer token-alice-0001' } })).json() as { batches: Array<{ id: string, done: boolean }> }
  t.match(progress.batches, [{ id, done: true }], 'the batch is in /api/progress')
})

test('the batch\'s multipart "input" and "notify" fields have the JSON body\'s size limit (413) and nesting limit (400), and leave nothing', async (t) => {
  const app = await build(t, { maxInputBytes: 4096, maxJsonDepth: 16 })
  const base = await listen(app)
  const nested = (depth: number): unknown => JSON.parse('['.repeat(depth) + ']'.repeat(depth))
  for (const [what, options, status, code, message] of [
    ['input too large', { input: { pad: 'x'.repeat(5000) } }, 413, 'INPUT_TOO_LARGE', /4 KiB.*JOBCAST_MAX_INPUT_BYTES/],
    ['input too deep', { input: { deep: nested(20) } }, 400, 'INPUT_TOO_DEEP', /16 levels.*JOBCAST_MAX_JSON_DEPTH/],
    ['input far too deep', { input: nested(1500) }, 400, 'INPUT_TOO_DEEP', /16 levels/],
    ['notify too deep', { notify: { webhook: nested(40) } }, 400, 'INPUT_TOO_DEEP', /16 levels/]
  ] as const) {
    const res = await sendBatch(base, 'documents', [csv(1), csv(2)], options)
    t.equal(res.status, status, `${what}: ${status}`)
    t.match(await res.json(), { code, message }, what)
  }
  t.same(await filesLeft(app.jobcast.config.dataDir), [], 'no file left behind')
  t.same((await app.jobcast.service.batches.list('alice', { limit: 10 })).items, [], 'no batch was created')
  const ok = await sendBatch(base, 'documents', [csv(1)], { input: { deep: nested(15) } })
  t.equal(ok.status, 400, 'within the limits the input reaches the type\'s schema (which refuses this one)')
  t.match(await ok.json(), { code: 'INVALID_INPUT' })
})
