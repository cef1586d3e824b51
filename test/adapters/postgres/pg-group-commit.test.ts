// PostgreSQL writes that go together in one statement (group commit): concurrent publishes, starts and terminal
// writes each keep what they would have alone.
import { test, type Test } from 'tap'
import { PgDatabase } from '../../../src/adapters/postgres/database.ts'
import { PgJobEvents } from '../../../src/adapters/postgres/pg-job-events.ts'
import { PgJobStore } from '../../../src/adapters/postgres/pg-job-store.ts'
import { makeJob, UNBOUNDED } from '../../ports/fixtures.ts'
import { createTestDatabase } from './test-database.ts'

async function open (t: Test): Promise<{ db: PgDatabase, events: PgJobEvents, store: PgJobStore }> {
  const database = await createTestDatabase()
  const db = await PgDatabase.open(database.url, { max: 5 })
  const events = await PgJobEvents.open(db, { retention: { intervalMs: 0 } })
  const store = new PgJobStore(db)
  t.teardown(async () => {
    await events.close()
    await store.close()
    await db.close()
    await database.drop()
  })
  return { db, events, store }
}

test('concurrent publishes of several owners: each owner\'s seqs follow its calls, gapless, in id order', async (t) => {
  const { db, events } = await open(t)
  const owners = ['alice', 'bob', 'carol', 'dave']
  const published = await Promise.all(Array.from({ length: 200 }, async (_, i) =>
    await events.publish({ kind: 'progress', jobId: `j${i}`, owner: owners[i % owners.length]!, batchId: null, data: JSON.stringify({ i }) })))
  for (const owner of owners) {
    const seqs = published.filter((e) => e.owner === owner).map((e) => Number(e.cursor.split('-')[1]))
    t.same(seqs, Array.from({ length: 50 }, (_, k) => k + 1), `${owner}: seqs 1..50 in call order`)
    const { rows } = await db.pool.query<{ seq: number, data: string }>('SELECT seq, data FROM jobcast.events WHERE owner = $1 ORDER BY id', [owner])
    t.same(rows.map((r) => r.seq), seqs, `${owner}: id order is seq order`)
    t.same(rows.map((r) => (JSON.parse(r.data) as { i: number }).i), published.filter((e) => e.owner === owner).map((e) => (JSON.parse(e.data) as { i: number }).i), `${owner}: each row is its publish's`)
  }
})

test('concurrent starts with one idempotency key: one is created, the rest answer it; the queue bound counts the batch', async (t) => {
  const { store } = await open(t)
  const outcomes = await Promise.all(Array.from({ length: 20 }, async () => await store.insertOrGet(makeJob({ idempotencyKey: 'k' }), { maxQueued: 100 })))
  const created = outcomes.filter((o) => o.status === 'created')
  t.equal(created.length, 1)
  t.ok(outcomes.every((o) => o.status !== 'queue-full' && o.job.id === created[0]!.job.id), 'every start answers the created job')
  const bounded = await Promise.all(Array.from({ length: 10 }, async () => await store.insertOrGet(makeJob({ owner: 'bob' }), { maxQueued: 4 })))
  t.equal(bounded.filter((o) => o.status === 'created').length, 4, 'starts beyond the bound are refused, batch or not')
  t.equal(await store.countQueued('bob'), 4)
})

test('the queued count follows every change into and out of queued', async (t) => {
  const { db, store } = await open(t)
  const counted = async (): Promise<number> => (await db.pool.query<{ n: number }>("SELECT count(*) AS n FROM jobcast.jobs WHERE owner = 'alice' AND state = 'queued'")).rows[0]!.n
  const check = async (what: string): Promise<void> => { t.equal(await store.countQueued('alice'), await counted(), what) }
  const jobs = await Promise.all(Array.from({ length: 4 }, async () => (await store.insertOrGet(makeJob(), { maxQueued: 100 })) as { job: ReturnType<typeof makeJob> }))
  await check('after the starts')
  const [running] = await store.claim('n1', 1, UNBOUNDED, 60_000)
  await check('after a claim')
  const requeued = await store.update(running!, { state: 'queued', lease: null, attempt: 2 })
  t.ok(requeued)
  await check('after a running job is queued again')
  const queued = jobs.map((j) => j.job).find((j) => j.id !== running!.id)!
  t.ok(await store.update(queued, { state: 'canceled', finishedAt: Date.now() }))
  await check('after a queued job is canceled')
  await store.delete([jobs.map((j) => j.job).find((j) => j.id !== running!.id && j.id !== queued.id)!.id])
  await check('after a queued job is deleted')
  t.equal(await store.countQueued('alice'), 2)
})

test('concurrent terminal writes: each compare-and-set holds on its own, and a stale one loses alone', async (t) => {
  const { store } = await open(t)
  for (let i = 0; i < 12; i++) await store.insertOrGet(makeJob(), { maxQueued: 100 })
  const claimed = await store.claim('n1', 12, UNBOUNDED, 60_000)
  t.equal(claimed.length, 12)
  const now = Date.now()
  const writes = await Promise.all(claimed.map(async (job, i) => await store.update(i === 3 ? { ...job, version: job.version - 1 } : job,
    i % 2 === 0 ? { state: 'completed', finishedAt: now, lease: null, result: { i } } : { state: 'failed', finishedAt: now, lease: null, error: { code: 'X', message: `${i}` } })))
  t.equal(writes[3], undefined, 'the stale write wrote nothing')
  for (const [i, written] of writes.entries()) {
    if (i === 3) continue
    t.equal(written?.state, i % 2 === 0 ? 'completed' : 'failed')
    t.same(i % 2 === 0 ? written?.result : written?.error, i % 2 === 0 ? { i } : { code: 'X', message: `${i}` }, `write ${i} is its own`)
    t.equal(written?.version, claimed[i]!.version + 1)
  }
  t.equal((await store.get(claimed[3]!.id))?.state, 'running', 'the stale write\'s job is untouched')
})
