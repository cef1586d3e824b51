// The JobStore contract: the same cases against every adapter. An adapter's test file calls `jobStoreContract`
// with a factory that opens a fresh, empty store; the cases speak only through the port.
import type { Test } from 'tap'
import type { JobRecord } from '../../src/core/model.ts'
import type { JobEvent, JobEvents } from '../../src/ports/job-events.ts'
import type { ClaimBounds, JobStore } from '../../src/ports/job-store.ts'
import { batchStoreContract } from './batch-store.contract.ts'
import { finish, insert, makeJob, UNBOUNDED } from './fixtures.ts'

/** A fresh store for one case. */
export interface JobStoreHarness {
  store: JobStore
  /** Releases the store and whatever it lives in (closing `store` and every peer first). */
  cleanup: () => Promise<void>
  /** Another handle on the same storage, as a second node would open it (absent: the cases use `store` twice). */
  peer?: () => Promise<JobStore>
  /** The events `store` delivers what it appends to, when it `appendsEvents`. */
  events?: JobEvents
}

/** Opens a fresh, empty store. */
export type JobStoreFactory = () => Promise<JobStoreHarness>

const HOUR = 3600_000

/** Runs the JobStore contract cases against the stores `factory` opens. */
export function jobStoreContract (t: Test, factory: JobStoreFactory): void {
  // A fresh store for the case, and a second "node" on the same storage.
  async function open (t: Test): Promise<{ store: JobStore, other: JobStore, events?: JobEvents }> {
    const harness = await factory()
    t.teardown(harness.cleanup)
    const other = harness.peer === undefined ? harness.store : await harness.peer()
    return { store: harness.store, other, events: harness.events }
  }

  t.test('insertOrGet with an event: appended in the commit and delivered when the store appends events, else ignored', async (t) => {
    const { store, events } = await open(t)
    if (store.appendsEvents !== true) {
      // The caller publishes; the store must not need the event nor fail on it.
      const outcome = await store.insertOrGet(makeJob(), { maxQueued: 10 }, { kind: 'queued', data: '{}' })
      t.equal(outcome.status, 'created')
      return
    }
    t.ok(events, 'a store that appends events comes with the events it delivers to')
    let timer: NodeJS.Timeout | undefined
    const heard = new Promise<JobEvent>((resolve, reject) => {
      t.teardown(events!.subscribe(resolve))
      timer = setTimeout(() => { reject(new Error('no subscriber heard the appended event within 5 s')) }, 5000)
    })
    t.teardown(() => { clearTimeout(timer) })
    const before = await events!.head('alice')
    const job = makeJob({ idempotencyKey: 'k' })
    const outcome = await store.insertOrGet(job, { maxQueued: 10 }, { kind: 'queued', data: '{"n":1}' })
    t.equal(outcome.status, 'created')
    // Durable with the job: the owner's history has it as soon as the insert resolves.
    const since = await events!.since('alice', before)
    t.match(since, [{ kind: 'queued', jobId: job.id, owner: 'alice', data: '{"n":1}' }])
    const event = await heard
    t.match(event, { kind: 'queued', jobId: job.id, data: '{"n":1}' })
    t.same(event.job, job, 'the record written is attached for this node\'s listeners')
    // A replay and a refusal append nothing.
    t.equal((await store.insertOrGet(makeJob({ idempotencyKey: 'k' }), { maxQueued: 10 }, { kind: 'queued', data: '{}' })).status, 'existing')
    t.equal((await store.insertOrGet(makeJob(), { maxQueued: 1 }, { kind: 'queued', data: '{}' })).status, 'queue-full')
    t.equal((await events!.since('alice', before))?.length, 1)
  })

  t.test('insertOrGet: created, and every field reads back as written', async (t) => {
    const { store } = await open(t)
    const job = makeJob({
      input: { rows: [1, 2], name: 'x', nested: { z: 1, a: 2 } },
      files: [{ field: 'file', name: 'a.csv', path: 'uploads/1.csv', size: 3, mimeType: 'text/csv' }],
      progress: { current: 1, total: 2, percent: 50, message: 'half', stage: 'read', etaMs: 10 },
      checkpoint: { offset: 12 },
      batchId: 'b1',
      idempotencyKey: 'k1',
      requestHash: 'h1',
      maxAttempts: 5
    })
    const outcome = await store.insertOrGet(job, { maxQueued: 10 })
    t.equal(outcome.status, 'created')
    t.same(outcome.status === 'created' && outcome.job, job)
    t.same(await store.get(job.id), job)
    t.equal(await store.get('no-such-job'), undefined)
  })

  t.test('list, recent and peek leave out the input, preview and checkpoint (get has them); every other field as stored', async (t) => {
    const { store } = await open(t)
    const job = makeJob({ input: { big: 'x'.repeat(10_000) }, preview: { rows: [[1]] }, checkpoint: { offset: 3 } })
    await store.insertOrGet(job, { maxQueued: 10 })
    const listed = { ...job, input: null, preview: null, checkpoint: null }
    t.same(await store.list('alice', { limit: 10 }), [listed])
    t.same(await store.recent('alice', 0, 10), [listed])
    t.same(await store.peek(job.id), listed)
    t.equal(await store.peek('no-such-job'), undefined)
    t.same(await store.get(job.id), job)
  })

  t.test('insertOrGet: the same idempotency key gives the same job; keys are per owner', async (t) => {
    const { store } = await open(t)
    const first = await store.insertOrGet(makeJob({ idempotencyKey: 'k' }), { maxQueued: 10 })
    const again = await store.insertOrGet(makeJob({ idempotencyKey: 'k', input: { other: true } }), { maxQueued: 10 })
    t.equal(again.status, 'existing')
    t.same(again.status === 'existing' && again.job, first.status === 'created' && first.job)
    const bob = await store.insertOrGet(makeJob({ owner: 'bob', idempotencyKey: 'k' }), { maxQueued: 10 })
    t.equal(bob.status, 'created', 'another owner with the same key gets a job of its own')
    t.equal((await store.list('alice', { limit: 10 })).length, 1)
  })

  t.test('insertOrGet: 20 concurrent inserts with one key make one row', async (t) => {
    const { store, other } = await open(t)
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      (i % 2 === 0 ? store : other).insertOrGet(makeJob({ idempotencyKey: 'race' }), { maxQueued: 100 })))
    t.equal(outcomes.filter((o) => o.status === 'created').length, 1)
    t.equal(outcomes.filter((o) => o.status === 'existing').length, 19)
    t.equal(new Set(outcomes.map((o) => o.status === 'queue-full' ? undefined : o.job.id)).size, 1)
    t.equal((await store.list('alice', { limit: 100 })).length, 1)
  })

  t.test('insertOrGet: queue-full writes nothing; an existing key still answers existing', async (t) => {
    const { store } = await open(t)
    const kept = await store.insertOrGet(makeJob({ idempotencyKey: 'kept' }), { maxQueued: 2 })
    await store.insertOrGet(makeJob(), { maxQueued: 2 })
    const refused = makeJob()
    t.same(await store.insertOrGet(refused, { maxQueued: 2 }), { status: 'queue-full' })
    t.equal(await store.get(refused.id), undefined)
    t.equal(await store.countQueued('alice'), 2)
    const retry = await store.insertOrGet(makeJob({ idempotencyKey: 'kept' }), { maxQueued: 2 })
    t.equal(retry.status, 'existing')
    t.equal(retry.status === 'existing' && retry.job.id, kept.status === 'created' && kept.job.id)
    t.equal((await store.insertOrGet(makeJob({ owner: 'bob' }), { maxQueued: 2 })).status, 'created', 'the bound is per owner')
  })

  t.test('insertOrGet: concurrent inserts never pass maxQueued', async (t) => {
    const { store, other } = await open(t)
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      (i % 2 === 0 ? store : other).insertOrGet(makeJob(), { maxQueued: 5 })))
    t.equal(outcomes.filter((o) => o.status === 'created').length, 5)
    t.equal(outcomes.filter((o) => o.status === 'queue-full').length, 15)
    t.equal(await store.countQueued('alice'), 5)
    t.equal((await store.list('alice', { limit: 100 })).length, 5)
  })

  t.test('countQueued counts the owner\'s queued jobs only', async (t) => {
    const { store } = await open(t)
    for (let i = 0; i < 3; i++) await insert(store)
    await insert(store, { owner: 'bob' })
    t.equal(await store.countQueued('alice'), 3)
    await store.claim('n1', 1, UNBOUNDED, 60_000)
    t.equal(await store.countQueued('alice') + await store.countQueued('bob'), 3, 'a claimed job is no longer queued')
    t.equal(await store.countQueued('carol'), 0)
  })

  t.test('countByState counts every job by type and state', async (t) => {
    const { store } = await open(t)
    for (let i = 0; i < 3; i++) await insert(store)
    await insert(store, { owner: 'bob', type: 'other' })
    await store.claim('n1', 1, UNBOUNDED, 60_000)
    const counts = await store.countByState()
    const total = counts.reduce((n, c) => n + c.count, 0)
    t.equal(total, 4)
    t.equal(counts.filter((c) => c.state === 'running').reduce((n, c) => n + c.count, 0), 1, 'the claimed one runs')
    t.same([...new Set(counts.map((c) => c.type))].sort(), ['other', 'work'], 'by type')
  })

  t.test('list: newest first, filters, limit and before-cursor paging', async (t) => {
    const { store } = await open(t)
    const jobs: JobRecord[] = []
    for (let i = 0; i < 6; i++) jobs.push(await insert(store, { type: i % 2 === 0 ? 'even' : 'odd', batchId: i < 3 ? 'b1' : null }))
    await insert(store, { owner: 'bob' })
    const ids = jobs.map((j) => j.id).reverse()
    t.same((await store.list('alice', { limit: 10 })).map((j) => j.id), ids)
    t.same((await store.list('alice', { limit: 10, type: 'even' })).map((j) => j.type), ['even', 'even', 'even'])
    t.same((await store.list('alice', { limit: 10, batchId: 'b1' })).map((j) => j.id), ids.slice(3))
    await finish(store, jobs[0]!)
    t.same((await store.list('alice', { limit: 10, state: 'completed' })).map((j) => j.id), [jobs[0]!.id])
    const paged: string[] = []
    let before: string | undefined
    for (;;) {
      const page = await store.list('alice', { limit: 4, before })
      if (page.length === 0) break
      paged.push(...page.map((j) => j.id))
      before = page.at(-1)!.id
    }
    t.same(paged, ids, 'paging visits every job once, newest first')
  })

  t.test('recent: unfinished and recently finished, newest first', async (t) => {
    const { store } = await open(t)
    const old = await insert(store)
    const fresh = await insert(store)
    const waiting = await insert(store)
    await finish(store, old, 1_000)
    await finish(store, fresh, 5_000)
    t.same((await store.recent('alice', 2_000, 10)).map((j) => j.id), [waiting.id, fresh.id])
    t.same((await store.recent('alice', 2_000, 1)).map((j) => j.id), [waiting.id])
    t.same(await store.recent('bob', 0, 10), [])
  })

  t.test('update: compare-and-set on the version', async (t) => {
    const { store } = await open(t)
    const job = await insert(store)
    const progress = { current: 1, total: 4, percent: 25, message: null, stage: null, etaMs: null }
    const written = await store.update(job, { progress, checkpoint: { at: 1 } })
    t.equal(written?.version, job.version + 1)
    t.same(written?.progress, progress)
    t.same(await store.get(job.id), written)
    t.equal(await store.update(job, { result: 'stale' }), undefined, 'a stale version writes nothing')
    t.same(await store.get(job.id), written)
    const again = await store.update(written!, { state: 'failed', error: { code: 'X', message: 'x' }, finishedAt: 1 })
    t.equal(again?.version, job.version + 2)
    t.same(again?.error, { code: 'X', message: 'x' })
    t.equal(await store.update(makeJob(), { result: 1 }), undefined, 'an unknown job is not written')
  })

  t.test('claim: FIFO per owner and type', async (t) => {
    const { store } = await open(t)
    const jobs: JobRecord[] = []
    for (let i = 0; i < 5; i++) jobs.push(await insert(store))
    const order: string[] = []
    for (let i = 0; i < 5; i++) order.push(...(await store.claim('n1', 1, UNBOUNDED, 60_000)).map((j) => j.id))
    t.same(order, jobs.map((j) => j.id))
    t.same(await store.claim('n1', 1, UNBOUNDED, 60_000), [])
  })

  t.test('claim: round-robin between owners', async (t) => {
    const { store } = await open(t)
    for (const owner of ['alice', 'bob', 'carol']) for (let i = 0; i < 4; i++) await insert(store, { owner })
    const batch = await store.claim('n1', 6, UNBOUNDED, 60_000)
    t.same(count(batch.map((j) => j.owner)), { alice: 2, bob: 2, carol: 2 }, 'one claim shares between owners')
    const owners: string[] = []
    for (let i = 0; i < 6; i++) owners.push(...(await store.claim('n1', 1, UNBOUNDED, 60_000)).map((j) => j.owner))
    t.equal(owners.length, 6)
    for (let i = 0; i + 3 <= owners.length; i++) t.equal(new Set(owners.slice(i, i + 3)).size, 3, `claims ${i}..${i + 2} go to three owners`)
  })

  t.test('claim: one owner\'s many jobs do not delay another\'s one', async (t) => {
    const { store } = await open(t)
    for (let i = 0; i < 20; i++) await insert(store)
    const bobs = await insert(store, { owner: 'bob' })
    const firstTwo = [...await store.claim('n1', 1, UNBOUNDED, 60_000), ...await store.claim('n1', 1, UNBOUNDED, 60_000)]
    t.ok(firstTwo.some((j) => j.id === bobs.id), 'bob\'s job is among the first two claimed')
  })

  t.test('claim: a job whose runAt is to come is not claimed; nextRunAt names it', async (t) => {
    const { store } = await open(t)
    t.equal(await store.nextRunAt(), undefined)
    const later = await insert(store, { runAt: Date.now() + HOUR })
    const soon = await insert(store, { runAt: Date.now() + 2 * HOUR })
    const now = await insert(store)
    t.same((await store.claim('n1', 10, UNBOUNDED, 60_000)).map((j) => j.id), [now.id])
    t.equal(await store.nextRunAt(), later.runAt)
    t.ok(soon.runAt > later.runAt)
  })

  t.test('claim: userConcurrency bounds an owner\'s running jobs', async (t) => {
    const { store } = await open(t)
    for (let i = 0; i < 5; i++) await insert(store)
    const bounds: ClaimBounds = { userConcurrency: 2, typeConcurrency: () => undefined }
    const first = await store.claim('n1', 10, bounds, 60_000)
    t.equal(first.length, 2)
    t.same(await store.claim('n2', 10, bounds, 60_000), [], 'the bound holds for another node too')
    await finish(store, first[0]!)
    t.equal((await store.claim('n2', 10, bounds, 60_000)).length, 1, 'a finished job frees its slot')
  })

  t.test('claim: typeConcurrency bounds a type across owners, and does not block the owner\'s other types', async (t) => {
    const { store } = await open(t)
    const slow1 = await insert(store, { type: 'slow' })
    await insert(store, { type: 'slow' })
    const fast = await insert(store, { type: 'fast' })
    await insert(store, { owner: 'bob', type: 'slow' })
    const bounds: ClaimBounds = { userConcurrency: 10, typeConcurrency: (type) => type === 'slow' ? 1 : undefined }
    const claimed = await store.claim('n1', 10, bounds, 60_000)
    t.same(claimed.map((j) => j.id).sort(), [slow1.id, fast.id].sort())
    t.same(await store.claim('n2', 10, bounds, 60_000), [])
  })

  t.test('claim: concurrent claims from two nodes never exceed the bounds', async (t) => {
    const { store, other } = await open(t)
    for (const owner of ['a', 'b', 'c', 'd']) {
      for (let i = 0; i < 3; i++) await insert(store, { owner, type: 'limited' })
      for (let i = 0; i < 3; i++) await insert(store, { owner, type: 'free' })
    }
    const bounds: ClaimBounds = { userConcurrency: 3, typeConcurrency: (type) => type === 'limited' ? 4 : undefined }
    const batches = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      (i % 2 === 0 ? store : other).claim(`n${i % 2}`, 3, bounds, 60_000)))
    const claimed = batches.flat()
    t.equal(new Set(claimed.map((j) => j.id)).size, claimed.length, 'no job claimed twice')
    t.equal(claimed.length, 12, 'every owner filled to its bound')
    for (const [owner, n] of Object.entries(count(claimed.map((j) => j.owner)))) t.ok(n <= 3, `${owner} runs ${n} <= 3`)
    t.ok(claimed.filter((j) => j.type === 'limited').length <= 4, 'the type bound holds')
  })

  t.test('claim: writes the lease and running state', async (t) => {
    const { store } = await open(t)
    const job = await insert(store)
    const before = Date.now()
    const [claimed] = await store.claim('node-1', 1, UNBOUNDED, 30_000)
    const after = Date.now()
    t.equal(claimed?.id, job.id)
    t.equal(claimed?.state, 'running')
    t.equal(claimed?.version, job.version + 1)
    t.equal(claimed?.lease?.node, 'node-1')
    t.ok(claimed!.lease!.expiresAt >= before + 30_000 && claimed!.lease!.expiresAt <= after + 30_000, 'expires leaseMs from now')
    t.same(await store.get(job.id), claimed)
  })

  t.test('claim: concurrent claimers never take a job twice', async (t) => {
    const { store, other } = await open(t)
    const ids: string[] = []
    for (const owner of ['a', 'b', 'c']) for (let i = 0; i < 10; i++) ids.push((await insert(store, { owner })).id)
    const batches = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      (i % 2 === 0 ? store : other).claim(`n${i}`, 5, UNBOUNDED, 60_000)))
    const claimed = batches.flat().map((j) => j.id)
    t.equal(new Set(claimed).size, claimed.length, 'no duplicates')
    t.same([...claimed].sort(), [...ids].sort(), 'all 30 claimed')
  })

  t.test('heartbeat: extends own leases, reports lost ones', async (t) => {
    const { store } = await open(t)
    await insert(store)
    await insert(store)
    const [a, b] = await store.claim('n1', 2, UNBOUNDED, 10_000)
    t.same(await store.heartbeat('n1', [a!.id, b!.id], HOUR), { lost: [], canceled: [] })
    t.ok((await store.get(a!.id))!.lease!.expiresAt >= Date.now() + HOUR - 60_000, 'extended')
    t.same(await store.heartbeat('n2', [a!.id], HOUR), { lost: [a!.id], canceled: [] }, 'another node\'s lease is not extended')
    t.equal((await store.get(a!.id))!.lease!.node, 'n1')
    await finish(store, (await store.get(b!.id))!)
    t.same(await store.heartbeat('n1', [a!.id, b!.id, 'unknown'], HOUR), { lost: [b!.id, 'unknown'], canceled: [] })
  })

  t.test('requestCancel: recorded on a running job, answered by its node\'s next heartbeat', async (t) => {
    const { store, other } = await open(t)
    const queued = await insert(store)
    t.equal(await other.requestCancel(queued.id), false, 'a queued job is not running: nothing recorded')
    const [running] = await store.claim('n1', 1, UNBOUNDED, HOUR)
    t.equal(await other.requestCancel(running!.id), true, 'recorded through another node')
    t.equal(await other.requestCancel('unknown'), false)
    t.same(await store.heartbeat('n1', [running!.id], HOUR), { lost: [], canceled: [running!.id] })
    t.same(await store.heartbeat('n1', [running!.id], HOUR), { lost: [], canceled: [running!.id] }, 'until the job stops')
    t.equal((await store.get(running!.id))!.version, running!.version, 'no version change: the running node can still write the outcome')
    const requeued = await store.update(running!, { state: 'queued', lease: null })
    t.ok(requeued, 'the running node\'s copy is current')
    const [again] = await store.claim('n2', 1, UNBOUNDED, HOUR)
    t.equal(again?.id, running!.id)
    t.same(await store.heartbeat('n2', [again!.id], HOUR), { lost: [], canceled: [] }, 'a new attempt starts without the old request')
    await finish(store, (await store.get(again!.id))!)
    t.equal(await other.requestCancel(again!.id), false, 'a finished job: nothing recorded')
  })

  t.test('expiredLeases: running jobs whose lease ran out', async (t) => {
    const { store } = await open(t)
    await insert(store)
    const [short] = await store.claim('n1', 1, UNBOUNDED, 1)
    await insert(store)
    const [long] = await store.claim('n1', 1, UNBOUNDED, HOUR)
    const expired = await store.expiredLeases(Date.now() + 60_000, 10)
    t.same(expired.map((j) => j.id), [short!.id])
    t.equal(expired[0]?.lease?.node, 'n1')
    t.same((await store.expiredLeases(Date.now() + 2 * HOUR, 10)).map((j) => j.id).sort(), [short!.id, long!.id].sort())
    t.equal((await store.expiredLeases(Date.now() + 2 * HOUR, 1)).length, 1, 'limit')
    await finish(store, short!)
    t.same(await store.expiredLeases(Date.now() + 60_000, 10), [], 'a finished job has no lease')
  })

  t.test('finishedBefore and delete', async (t) => {
    const { store } = await open(t)
    const jobs = [await insert(store), await insert(store), await insert(store), await insert(store)]
    await finish(store, jobs[2]!, 100)
    await finish(store, jobs[0]!, 200)
    await finish(store, jobs[1]!, 300)
    t.same((await store.finishedBefore(250, 10)).map((j) => j.id), [jobs[2]!.id, jobs[0]!.id], 'oldest first')
    t.same((await store.finishedBefore(250, 1)).map((j) => j.id), [jobs[2]!.id])
    await store.addArtifact({ jobId: jobs[2]!.id, name: 'out.txt', size: 1, contentType: 'text/plain', createdAt: 1 })
    await store.delete([jobs[2]!.id, jobs[0]!.id])
    t.equal(await store.get(jobs[2]!.id), undefined)
    t.same(await store.artifacts(jobs[2]!.id), [], 'artifact records go with the job')
    t.same((await store.list('alice', { limit: 10 })).map((j) => j.id), [jobs[3]!.id, jobs[1]!.id])
    await store.delete([])
  })

  t.test('artifacts: add, replace by name, list by name', async (t) => {
    const { store } = await open(t)
    const job = await insert(store)
    const otherJob = await insert(store)
    await store.addArtifact({ jobId: job.id, name: 'b.csv', size: 10, contentType: 'text/csv', createdAt: 1 })
    await store.addArtifact({ jobId: job.id, name: 'a.json', size: 5, contentType: 'application/json', createdAt: 2 })
    await store.addArtifact({ jobId: job.id, name: 'b.csv', size: 20, contentType: 'text/csv', createdAt: 3 })
    await store.addArtifact({ jobId: otherJob.id, name: 'c.txt', size: 1, contentType: 'text/plain', createdAt: 4 })
    t.same(await store.artifacts(job.id), [
      { jobId: job.id, name: 'a.json', size: 5, contentType: 'application/json', createdAt: 2 },
      { jobId: job.id, name: 'b.csv', size: 20, contentType: 'text/csv', createdAt: 3 }
    ])
  })

  t.test('health and close (twice)', async (t) => {
    const { store } = await open(t)
    t.equal((await store.health()).ok, true)
    await store.close()
    await store.close()
    t.pass('closed twice')
  })

  batchStoreContract(t, open)
}

function count (values: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1
  return counts
}

