import { test } from 'tap'
import { Type } from 'typebox'
import { defineJob } from '../../src/core/define-job.ts'
import type { BatchSummary, BatchView } from '../../src/schemas/batch.ts'
import { AUTH, build } from '../helper.ts'
import { within } from '../ports/fixtures.ts'
import { dataOf, openSse } from '../sse/sse-client.ts'
import { Gate, listen } from '../sse/fixtures.ts'
import { sendBatch } from './batch-fixtures.ts'

const csv = (i: number): { name: string, body: string } => ({ name: `f${i}.csv`, body: 'a,b\n1,2\n' })

// Each child completes once the gate lets it through.
function gatedType (gate: Gate): ReturnType<typeof defineJob> {
  return defineJob({
    type: 'gated-file',
    input: Type.Object({}),
    files: { min: 1, max: 1, maxBytes: 1e6, accept: ['.csv'] },
    concurrency: 1,
    async run () { await gate.wait(); return { ok: true } }
  })
}

test('GET /api/batches/:id/events: a snapshot, the children\'s events and a batch event on every change; it ends after the batch is done', async (t) => {
  const gate = new Gate()
  const app = await build(t, {}, [gatedType(gate)])
  const base = await listen(app)
  const res = await sendBatch(base, 'gated-file', [csv(0), csv(1), { name: 'notes.txt', body: 'x' }])
  const batch = await res.json() as BatchView

  const stream = await openSse(`${base}/api/batches/${batch.id}/events`, { headers: AUTH.alice })
  t.teardown(async () => { await stream.close() })
  t.equal(stream.status, 200)
  const snapshot = dataOf<BatchView>(await within(stream.next((e) => e.event === 'snapshot'), 10_000, 'the snapshot'))
  t.match(snapshot, { id: batch.id, total: 3, failed: 1, done: false })
  t.equal(snapshot.jobs.length, 3, 'the snapshot carries every child')

  gate.release(2)
  const completed = await within(stream.next((e) => e.event === 'completed'), 10_000, 'a child\'s completed event')
  t.ok(batch.jobs.some((j) => j.id === dataOf<{ id: string }>(completed).id), 'the child events are the batch\'s children\'s')
  const last = await within(stream.next((e) => e.event === 'batch' && dataOf<BatchSummary>(e).done), 10_000, 'the batch event that says done')
  t.match(dataOf<BatchSummary>(last), { id: batch.id, total: 3, completed: 2, failed: 1, done: true, succeeded: false, percent: 100 })
  await within(stream.ended, 10_000, 'the end of the stream')
  const batchEvents = stream.events.filter((e) => e.event === 'batch').map((e) => dataOf<BatchSummary>(e))
  t.ok(batchEvents.length >= 2, 'a batch event on every change of a child')
  for (const b of batchEvents) t.equal(b.queued + b.running + b.completed + b.failed + b.canceled, b.total, 'every aggregate adds up')
  t.same(batchEvents.map((b) => b.completed), [...batchEvents.map((b) => b.completed)].sort((x, y) => x - y), 'completed only grows')

  // A done batch's stream is its snapshot, then the end.
  const after = await openSse(`${base}/api/batches/${batch.id}/events`, { headers: AUTH.alice })
  await within(after.ended, 10_000, 'the end of a done batch\'s stream')
  t.same(after.events.map((e) => e.event), ['snapshot'])
  t.match(dataOf<BatchView>(after.events[0]!), { done: true })

  const bobs = await openSse(`${base}/api/batches/${batch.id}/events`, { headers: AUTH.bob })
  t.equal(bobs.status, 404, 'another user\'s batch has no stream')
  await bobs.close()
})

test('batch events on /api/events; GET /api/batches lists mine newest first, a page at a time', async (t) => {
  const gate = new Gate()
  const app = await build(t, {}, [gatedType(gate)])
  const base = await listen(app)
  const stream = await openSse(`${base}/api/events`, { headers: AUTH.alice })
  t.teardown(async () => { await stream.close() })
  await within(stream.next((e) => e.event === 'snapshot'), 10_000, 'the snapshot')

  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await (await sendBatch(base, 'gated-file', [csv(i)])).json() as BatchView).id)
  const created = dataOf<BatchSummary>(await within(stream.next((e) => e.event === 'batch'), 10_000, 'a batch event'))
  t.equal(created.id, ids[0], 'a new batch is announced on the user\'s stream')
  gate.release(3)
  const done = dataOf<BatchSummary>(await within(stream.next((e) => e.event === 'batch' && dataOf<BatchSummary>(e).id === ids[2] && dataOf<BatchSummary>(e).done), 10_000, 'the last batch done'))
  t.match(done, { total: 1, completed: 1, done: true, succeeded: true })

  const page = async (query: string, user: keyof typeof AUTH = 'alice'): Promise<{ items: BatchSummary[], nextCursor: string | null }> => await (await fetch(`${base}/api/batches${query}`, { headers: AUTH[user] })).json() as { items: BatchSummary[], nextCursor: string | null }
  const first = await page('?limit=2')
  t.same(first.items.map((b) => b.id), [ids[2], ids[1]], 'newest first')
  t.type(first.nextCursor, 'string')
  const second = await page(`?limit=2&cursor=${first.nextCursor!}`)
  t.same(second.items.map((b) => b.id), [ids[0]])
  t.equal(second.nextCursor, null, 'the last page')
  t.same((await page('', 'bob')).items, [], 'another user sees none of them')
  const bad = await fetch(`${base}/api/batches?limit=0`, { headers: AUTH.alice })
  t.equal(bad.status, 400)
})
