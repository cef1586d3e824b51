// The batch and outbox cases of the JobStore contract (called from job-store.contract.ts): batches with their
// children in one commit, counts, the batch's end, and the deliveries written with terminal transitions.
import type { Test } from 'tap'
import type { BatchRecord } from '../../src/core/batch-model.ts'
import { newId } from '../../src/lib/ids.ts'
import type { JobStore } from '../../src/ports/job-store.ts'
import { finish, insert, makeJob, UNBOUNDED } from './fixtures.ts'

function makeBatch (overrides: Partial<BatchRecord> = {}): BatchRecord {
  return { id: newId(), type: 'work', owner: 'alice', input: { a: 1 }, total: 0, createdAt: Date.now(), finishedAt: null, idempotencyKey: null, requestHash: null, notify: null, ...overrides }
}

/** Runs the batch and outbox cases against the stores `open` gives. */
export function batchStoreContract (t: Test, open: (t: Test) => Promise<{ store: JobStore, other: JobStore }>): void {
  t.test('insertBatch: the batch and its children in one write; counts by state; claimable children', async (t) => {
    const { store, other } = await open(t)
    const batch = makeBatch({ total: 3 })
    const children = [
      makeJob({ batchId: batch.id, idempotencyKey: 'k:0' }),
      makeJob({ batchId: batch.id, idempotencyKey: 'k:1' }),
      makeJob({ batchId: batch.id, idempotencyKey: 'k:2', state: 'failed', finishedAt: Date.now(), error: { code: 'UNSUPPORTED_TYPE', message: 'x' } })
    ]
    const outcome = await store.insertBatch(batch, children)
    t.equal(outcome.status, 'created')
    t.same(await other.getBatch(batch.id), batch)
    t.same(await other.batchCounts(batch.id), { queued: 2, running: 0, completed: 0, failed: 1, canceled: 0 })
    t.same((await other.list('alice', { batchId: batch.id, limit: 10 })).map((j) => j.id).sort(), children.map((c) => c.id).sort())
    const claimed = await other.claim('n1', 10, UNBOUNDED, 60_000)
    t.same(claimed.map((j) => j.id).sort(), children.slice(0, 2).map((c) => c.id).sort(), 'the queued children are claimable, the failed one is not')
    t.equal(await other.getBatch('no-such-batch'), undefined)
  })

  t.test('insertBatch: the same idempotency key gives the same batch and writes nothing', async (t) => {
    const { store } = await open(t)
    const first = makeBatch({ idempotencyKey: 'b', total: 1 })
    await store.insertBatch(first, [makeJob({ batchId: first.id })])
    const again = makeBatch({ idempotencyKey: 'b', total: 1 })
    const outcome = await store.insertBatch(again, [makeJob({ batchId: again.id })])
    t.equal(outcome.status, 'existing')
    t.equal(outcome.batch.id, first.id)
    t.equal((await store.list('alice', { limit: 10 })).length, 1, 'no child of the replay was written')
    t.equal((await store.insertBatch(makeBatch({ owner: 'bob', idempotencyKey: 'b' }), [])).status, 'created', 'keys are per owner')
  })

  t.test('listBatches: the owner\'s, newest first, paged by id', async (t) => {
    const { store } = await open(t)
    const batches = [makeBatch(), makeBatch(), makeBatch(), makeBatch({ owner: 'bob' })]
    for (const b of batches) await store.insertBatch(b, [])
    const page = await store.listBatches('alice', { limit: 2 })
    t.same(page.map((b) => b.id), [batches[2]!.id, batches[1]!.id])
    t.same((await store.listBatches('alice', { limit: 2, before: batches[1]!.id })).map((b) => b.id), [batches[0]!.id])
  })

  t.test('the terminal write of the last child ends the batch and writes its deliveries in the same commit', async (t) => {
    const { store, other } = await open(t)
    const batch = makeBatch({ total: 2, notify: { webhook: 'https://hooks.example/x', email: 'a@example.com' } })
    const [a, b] = [makeJob({ batchId: batch.id }), makeJob({ batchId: batch.id })]
    await store.insertBatch(batch, [a!, b!])
    const claimed = await store.claim('n1', 10, UNBOUNDED, 60_000)
    const ja = claimed.find((j) => j.id === a!.id)!
    const jb = claimed.find((j) => j.id === b!.id)!
    await store.update(ja, { state: 'completed', finishedAt: 1000, lease: null })
    t.equal((await other.getBatch(batch.id))!.finishedAt, null, 'one child left: not ended')
    t.same(await other.deliveries(batch.id), [])
    await store.update(jb, { state: 'failed', finishedAt: 2000, lease: null, error: { code: 'X', message: 'x' } })
    t.equal((await other.getBatch(batch.id))!.finishedAt, 2000)
    const deliveries = await other.deliveries(batch.id)
    t.same(deliveries.map((d) => [d.channel, d.target, d.state, d.subjectKind]).sort(), [['email', 'a@example.com', 'pending', 'batch'], ['webhook', 'https://hooks.example/x', 'pending', 'batch']])
  })

  t.test('a batch whose children all failed at intake ends at insert', async (t) => {
    const { store } = await open(t)
    const batch = makeBatch({ total: 1, notify: { webhook: 'https://hooks.example/x' } })
    await store.insertBatch(batch, [makeJob({ batchId: batch.id, state: 'failed', finishedAt: batch.createdAt })])
    t.equal((await store.getBatch(batch.id))!.finishedAt, batch.createdAt)
    t.equal((await store.deliveries(batch.id)).length, 1)
  })

  t.test('deliveries: a job\'s targets become pending deliveries with its terminal write; take, lease, record', async (t) => {
    const { store, other } = await open(t)
    const job = makeJob()
    await store.setNotify(job.id, job.owner, { webhook: 'https://hooks.example/j' })
    await store.insertOrGet(job, { maxQueued: 10 })
    t.same(await store.takeDueDeliveries(Date.now(), 10, 1000), [], 'nothing before the job ends')
    const [running] = await store.claim('n1', 1, UNBOUNDED, 60_000)
    await store.update(running!, { state: 'completed', finishedAt: Date.now(), lease: null })
    const now = Date.now() + 1
    const taken = await other.takeDueDeliveries(now, 10, 5000)
    t.equal(taken.length, 1)
    t.equal(taken[0]!.id, `msg_${job.id}_webhook`)
    t.same(await store.takeDueDeliveries(now, 10, 5000), [], 'leased: nobody else takes it meanwhile')
    t.equal(await store.nextDeliveryAt(), now + 5000)
    const attempt = { number: 1, at: new Date().toISOString(), status: 429, error: null, durationMs: 3, retryAfterMs: 2000 }
    await store.recordDelivery(taken[0]!.id, attempt, { state: 'pending', nextAt: now + 2000 })
    await store.recordDelivery(taken[0]!.id, { ...attempt, number: 2, status: 200, retryAfterMs: null }, { state: 'delivered', nextAt: null })
    const [stored] = await other.deliveries(job.id)
    t.equal(stored!.state, 'delivered')
    t.same(stored!.attempts.map((a) => [a.number, a.status]), [[1, 429], [2, 200]])
    t.same(await store.takeDueDeliveries(now + 10_000, 10, 5000), [], 'delivered: never due again')
  })

  t.test('webhook secrets: created once, the same after, replaced by a rotation', async (t) => {
    const { store, other } = await open(t)
    const first = await store.webhookSecret('alice')
    t.match(first, /^whsec_[A-Za-z0-9+/=]{40,}$/)
    t.equal(await other.webhookSecret('alice'), first)
    t.not(await store.webhookSecret('bob'), first)
    const rotated = await store.rotateWebhookSecret('alice')
    t.not(rotated, first)
    t.equal(await other.webhookSecret('alice'), rotated)
  })

  t.test('retention: finishedBefore leaves batch children to their batch; deleteBatches takes a batch and its deliveries', async (t) => {
    const { store, other } = await open(t)
    const standalone = await finish(store, await insert(store), 100)
    // A batch still running whose child failed at intake long ago: the child stays while the batch does.
    const live = makeBatch({ total: 2 })
    const early = makeJob({ batchId: live.id, state: 'failed', finishedAt: 50, error: { code: 'UNSUPPORTED_TYPE', message: 'x' } })
    await store.insertBatch(live, [early, makeJob({ batchId: live.id })])
    t.same((await other.finishedBefore(1000, 10)).map((j) => j.id), [standalone.id], 'a batch child is not listed on its own')
    t.same(await other.batchesFinishedBefore(Date.now() + 1000, 10), [], 'an unfinished batch is not listed')

    const older = makeBatch({ total: 1, notify: { webhook: 'https://hooks.example/b' } })
    const newer = makeBatch({ total: 1 })
    await store.insertBatch(newer, [makeJob({ batchId: newer.id, state: 'failed', finishedAt: 300, error: { code: 'X', message: 'x' } })])
    await store.insertBatch(older, [makeJob({ batchId: older.id, state: 'failed', finishedAt: 200, error: { code: 'X', message: 'x' } })])
    // Inserted with every child finished: the batch ended at its creation.
    const ended = await other.batchesFinishedBefore(Date.now() + 1000, 10)
    t.same(ended.map((b) => b.id).sort(), [older.id, newer.id].sort())
    t.equal((await other.batchesFinishedBefore(Date.now() + 1000, 1)).length, 1, 'limit')
    t.equal((await other.deliveries(older.id)).length, 1, 'the batch has a delivery')
    const [child] = await other.list('alice', { batchId: older.id, limit: 10 })
    await store.delete([child!.id])
    await store.deleteBatches([older.id])
    t.equal(await other.getBatch(older.id), undefined, 'the batch is gone')
    t.same(await other.deliveries(older.id), [], 'with its deliveries')
    t.ok(await other.getBatch(newer.id), 'another batch is kept')
    await store.deleteBatches([])
  })

  t.test('retention: delete takes a job\'s notify targets and deliveries; deleteUnusedTargets those no job was inserted for', async (t) => {
    const { store, other } = await open(t)
    const job = makeJob()
    await store.setNotify(job.id, job.owner, { webhook: 'https://hooks.example/j', email: 'a@example.com' })
    await store.insertOrGet(job, { maxQueued: 10 })
    const [running] = await store.claim('n1', 1, UNBOUNDED, 60_000)
    await store.update(running!, { state: 'completed', finishedAt: Date.now(), lease: null })
    t.equal((await other.deliveries(job.id)).length, 2)
    // A start refused after its targets were written: they belong to no job.
    const refused = newId()
    await store.setNotify(refused, 'alice', { webhook: 'https://hooks.example/r' })
    await store.delete([job.id])
    t.same(await other.deliveries(job.id), [], 'the deleted job\'s deliveries are gone')
    t.equal(await other.deleteUnusedTargets(Date.now() - 60_000), 0, 'a target younger than the cut-off is kept (its insert may be under way)')
    t.equal(await other.deleteUnusedTargets(Date.now() + 1), 1, 'only the refused start\'s target was left: the deleted job\'s went with it')
    const kept = await insert(store)
    await store.setNotify(kept.id, 'alice', { email: 'a@example.com' })
    t.equal(await other.deleteUnusedTargets(Date.now() + 1), 0, 'a job\'s targets are in use')
  })

  t.test('notify defaults: none at first; set, replaced, cleared; per owner', async (t) => {
    const { store, other } = await open(t)
    t.equal(await other.notifyDefaults('alice'), null)
    await store.setNotifyDefaults('alice', { webhook: 'https://hooks.example/a' })
    t.same(await other.notifyDefaults('alice'), { webhook: 'https://hooks.example/a' })
    t.equal(await other.notifyDefaults('bob'), null, 'per owner')
    await store.setNotifyDefaults('alice', { email: 'alice@example.com' })
    t.same(await other.notifyDefaults('alice'), { email: 'alice@example.com' }, 'replaced as a whole')
    await store.setNotifyDefaults('alice', { webhook: 'https://hooks.example/a', email: 'alice@example.com' })
    t.same(await other.notifyDefaults('alice'), { webhook: 'https://hooks.example/a', email: 'alice@example.com' })
    await store.setNotifyDefaults('alice', null)
    t.equal(await other.notifyDefaults('alice'), null, 'cleared')
    await store.setNotifyDefaults('alice', {})
    t.equal(await other.notifyDefaults('alice'), null, 'no target is none')
  })
}
