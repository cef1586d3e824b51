// PostgreSQL behaviour beyond the port contracts: nodes starting at once, commits out of id order, lost connections.
import pg from 'pg'
import { setTimeout as sleep } from 'node:timers/promises'
import { test, type Test } from 'tap'
import { PgDatabase } from '../../../src/adapters/postgres/database.ts'
import { SCHEMA_VERSION } from '../../../src/adapters/postgres/migrations.ts'
import { PgJobEvents, type PgJobEventsOptions } from '../../../src/adapters/postgres/pg-job-events.ts'
import { PgJobStore } from '../../../src/adapters/postgres/pg-job-store.ts'
import type { JobEvent } from '../../../src/ports/job-events.ts'
import { within } from '../../ports/fixtures.ts'
import { admin, createTestDatabase } from './test-database.ts'

const label = (e: JobEvent): string => (JSON.parse(e.data) as { label: string }).label

// A fresh database, dropped on teardown, and a way to open nodes (pool + events) on it, closed on teardown.
async function cluster (t: Test): Promise<{ url: string, name: string, node: (options?: PgJobEventsOptions) => Promise<{ db: PgDatabase, events: PgJobEvents }> }> {
  const database = await createTestDatabase()
  const nodes: Array<{ db: PgDatabase, events: PgJobEvents }> = []
  t.teardown(async () => {
    await Promise.all(nodes.map(async ({ db, events }) => { await events.close(); await db.close() }))
    await database.drop()
  })
  return {
    url: database.url,
    name: database.name,
    node: async (options = {}) => {
      const db = await PgDatabase.open(database.url, { max: 3 })
      const events = await PgJobEvents.open(db, { retention: { intervalMs: 0 }, ...options })
      nodes.push({ db, events })
      return { db, events }
    }
  }
}

// Polls `condition` every 20 ms (for states with no event to await), failing after `ms`.
async function until (condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  await within((async () => { while (!await condition()) await sleep(20) })(), ms, what)
}

// Begins a transaction on its own connection that appends an event of `owner` and holds it uncommitted.
async function heldEvent (url: string, owner: string, labelText: string): Promise<{ id: number, commit: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query('BEGIN')
  const { rows } = await client.query<{ seq: string }>(`INSERT INTO jobcast.event_owners (owner, seq) VALUES ($1, 1)
    ON CONFLICT (owner) DO UPDATE SET seq = jobcast.event_owners.seq + 1 RETURNING seq`, [owner])
  const { rows: [event] } = await client.query<{ id: string }>(`INSERT INTO jobcast.events (owner, seq, kind, job_id, batch_id, data, created_at)
    VALUES ($1, $2, 'progress', 'held', NULL, $3, $4) RETURNING id`, [owner, rows[0]!.seq, JSON.stringify({ label: labelText }), Date.now()])
  await client.query("SELECT pg_notify('jobcast', 'e:' || $1)", [event!.id])
  return {
    id: Number(event!.id),
    commit: async () => { await client.query('COMMIT'); await client.end() }
  }
}

test('several nodes migrating one fresh database at once', async (t) => {
  const database = await createTestDatabase()
  t.teardown(database.drop)
  const dbs = await Promise.all(Array.from({ length: 5 }, async () => await PgDatabase.open(database.url, { max: 1 })))
  t.teardown(async () => { await Promise.all(dbs.map(async (db) => { await db.close() })) })
  const { rows } = await dbs[0]!.pool.query('SELECT version FROM jobcast.migrations ORDER BY version')
  t.same(rows.map((r) => r.version), Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1), 'each step applied once')
  const { rows: epochs } = await dbs[0]!.pool.query("SELECT value FROM jobcast.meta WHERE key = 'events_epoch'")
  t.equal(epochs.length, 1)
})

test('the fan-out waits for an event that commits after one with a higher id', async (t) => {
  const { url, node } = await cluster(t)
  const { events } = await node({ gapMs: 60_000 })
  const heard: JobEvent[] = []
  const two = new Promise<void>((resolve) => events.subscribe((e) => { if (heard.push(e) === 2) resolve() }))
  const held = await heldEvent(url, 'alice', 'slow')
  await events.publish({ kind: 'progress', jobId: 'j', owner: 'bob', batchId: null, data: JSON.stringify({ label: 'fast' }) })
  // A notification sent after bob's: by the time it is heard, the fan-out has been woken by bob's.
  const probe = new Promise<void>((resolve) => events.onCancelRequest(() => { resolve() }))
  await events.requestCancel('probe')
  await within(probe, 5000, 'the probe')
  t.equal(heard.length, 0, 'bob\'s event waits behind alice\'s uncommitted one')
  await held.commit()
  await within(two, 5000, 'both events')
  t.same(heard.map(label), ['slow', 'fast'], 'delivered in id order, none lost')
})

test('an event committed after the fan-out gave up on its id is delivered before its owner\'s next one', async (t) => {
  const { url, node } = await cluster(t)
  const { events } = await node({ gapMs: 100 })
  const heard: JobEvent[] = []
  let arrived = (): void => {}
  events.subscribe((e) => { heard.push(e); arrived() })
  const next = async (n: number): Promise<void> => { await within(new Promise<void>((resolve) => { arrived = () => { if (heard.length >= n) resolve() } }), 5000, `${n} events`) }
  const held = await heldEvent(url, 'alice', 'late')
  const fast = next(1)
  await events.publish({ kind: 'progress', jobId: 'j', owner: 'bob', batchId: null, data: JSON.stringify({ label: 'fast' }) })
  await fast
  t.same(heard.map(label), ['fast'], 'delivered once the gap timed out')
  await held.commit()
  const rest = next(3)
  await events.publish({ kind: 'progress', jobId: 'j', owner: 'alice', batchId: null, data: JSON.stringify({ label: 'after' }) })
  await rest
  t.same(heard.map(label), ['fast', 'late', 'after'], 'alice\'s late event comes before her next one')
})

test('a dropped LISTEN connection comes back and catches up; health says so meanwhile', async (t) => {
  const { name, node } = await cluster(t)
  // A first wait of 150-300 ms before reconnecting: long enough to see the node unhealthy.
  const { events } = await node({ reconnect: { minBackoffMs: 300, maxBackoffMs: 1000 } })
  const { events: other } = await node()
  const heard: string[] = []
  events.subscribe((e) => heard.push(label(e)))
  t.same(events.health(), { ok: true })
  await admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'", [name])
  await until(() => !events.health().ok, 5000, 'the loss noticed')
  t.equal(events.health().ok, false)
  await other.publish({ kind: 'progress', jobId: 'j', owner: 'alice', batchId: null, data: JSON.stringify({ label: 'while-away' }) })
  await until(() => events.health().ok, 5000, 'reconnected')
  await until(() => heard.length >= 1, 5000, 'the missed event')
  await other.publish({ kind: 'progress', jobId: 'j', owner: 'alice', batchId: null, data: JSON.stringify({ label: 'after' }) })
  await until(() => heard.length >= 2, 5000, 'the next event')
  t.same(heard, ['while-away', 'after'], 'nothing lost, nothing twice')
})

test('the job store answers again after PostgreSQL drops its connections', async (t) => {
  const database = await createTestDatabase()
  t.teardown(database.drop)
  const db = await PgDatabase.open(database.url, { max: 2 })
  const store = new PgJobStore(db)
  t.teardown(async () => { await store.close(); await db.close() })
  t.same(await store.health(), { ok: true })
  await admin('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database.name])
  // The first query may land on a connection the pool has not yet seen die; the next ones get a new one.
  await until(async () => (await store.health()).ok, 5000, 'healthy again')
  t.equal(await store.countQueued('alice'), 0)
})
