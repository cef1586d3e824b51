// What the PostgreSQL job store costs a no-op job's life (insertOrGet, claim, completing update), as jobs/s,
// with NODES stores (one pool each, as separate nodes) each running WORKERS claim loops of up to CLAIM jobs,
// on a database created for the run and dropped after. Also the publish rate of PgJobEvents, and beside them
// the machine's own yardstick: autocommit one-row INSERTs and `SELECT 1`s at the same concurrency (a commit's
// flush and a round trip are what every figure above is made of).
//
//   node --import tsx scripts/bench/pg-store-micro.ts   (env: N=5000 OWNERS=10 NODES=1,2 WORKERS=4 CLAIM=20)
import pg from 'pg'
import { randomBytes } from 'node:crypto'
import { PgDatabase } from '../../src/adapters/postgres/database.ts'
import { PgJobEvents } from '../../src/adapters/postgres/pg-job-events.ts'
import { PgJobStore } from '../../src/adapters/postgres/pg-job-store.ts'
import type { JobRecord } from '../../src/core/model.ts'
import { newId } from '../../src/lib/ids.ts'
import { envInt, envInts, fmt } from './lib.ts'

const SERVER = process.env.JOBCAST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const N = envInt('N', 5000)
const OWNERS = envInt('OWNERS', 10)
const WORKERS = envInt('WORKERS', 4)
const CLAIM = envInt('CLAIM', 20)
const bounds = { userConcurrency: 1000, typeConcurrency: () => undefined }

async function admin (sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: SERVER })
  await client.connect()
  try { await client.query(sql) } finally { await client.end() }
}

const record = (i: number): JobRecord => ({
  id: newId(), type: 'noop', owner: `user${i % OWNERS}`, state: 'queued', input: {}, progress: null, result: null, error: null,
  preview: null, files: [], checkpoint: null, attempt: 1, maxAttempts: 1, createdAt: Date.now(), startedAt: null, finishedAt: null,
  runAt: Date.now(), batchId: null, idempotencyKey: null, requestHash: null, lease: null, version: 1
})

// Runs `count` calls of `fn` with `concurrency` in flight; resolves with calls per second.
async function rate (count: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0
  const start = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < count) await fn(next++) }))
  return count / ((performance.now() - start) / 1000)
}

for (const nodes of envInts('NODES', [1, 2])) {
  const name = `jobcast_bench_${randomBytes(4).toString('hex')}`
  await admin(`CREATE DATABASE ${name}`)
  const url = new URL(SERVER)
  url.pathname = `/${name}`
  const dbs = await Promise.all(Array.from({ length: nodes }, async () => await PgDatabase.open(url.toString(), { max: WORKERS + 2 })))
  const stores = dbs.map((db) => new PgJobStore(db))
  try {
    const inserts = await rate(N, 50, async (i) => await stores[i % nodes]!.insertOrGet(record(i), { maxQueued: N }))
    let done = 0
    const start = performance.now()
    await Promise.all(stores.flatMap((store, n) => Array.from({ length: WORKERS }, async (_, w) => {
      for (;;) {
        const jobs = await store.claim(`node${n}-${w}`, CLAIM, bounds, 30_000)
        if (jobs.length === 0) return
        await Promise.all(jobs.map(async (job) => await store.update(job, { state: 'completed', finishedAt: Date.now(), lease: null })))
        done += jobs.length
      }
    })))
    const runs = done / ((performance.now() - start) / 1000)
    const raw = await rate(N, 50, async () => await dbs[0]!.pool.query('INSERT INTO jobcast.meta (key, value) VALUES (gen_random_uuid()::text, $1)', ['x']))
    const selects = await rate(N, 50, async () => await dbs[0]!.pool.query('SELECT 1'))
    const events = await PgJobEvents.open(dbs[0]!, { retention: { intervalMs: 0 } })
    const publishes = await rate(N, 50, async (i) => await events.publish({ kind: 'progress', jobId: 'j', owner: `user${i % OWNERS}`, batchId: null, data: '{}' }))
    await events.close()
    console.log(`nodes=${nodes} workers/node=${WORKERS} claim=${CLAIM}: insertOrGet ${fmt(inserts)}/s (50 in flight), claim+complete ${fmt(runs)} jobs/s (${done} jobs), publish ${fmt(publishes)}/s (50 in flight); yardstick: INSERT ${fmt(raw)}/s, SELECT 1 ${fmt(selects)}/s`)
  } finally {
    await Promise.all(stores.map(async (s) => { await s.close() }))
    await Promise.all(dbs.map(async (db) => { await db.close() }))
    await admin(`DROP DATABASE ${name} WITH (FORCE)`)
  }
}
