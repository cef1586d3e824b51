// Three `jobcast serve` processes on one PostgreSQL database, and what the cluster tests ask of them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { pollUntil, startChildServer, type ChildServer } from '../child-server.ts'
import type { Teardown } from '../helper.ts'
import { createTestDatabase } from '../adapters/postgres/test-database.ts'
import { PROBE_TABLE } from './jobs/_probe.ts'

/** The users of the cluster tests and their tokens. */
export const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'] as const
export type User = typeof USERS[number]
const tokenOf = (user: User): string => `token-${user}-cluster-0001`

/** One node of the cluster: its id (in leases and probe rows) and its server process. */
export interface Node extends ChildServer {
  id: string
}

/** A running cluster and its database. */
export interface Cluster {
  nodes: Node[]
  /** A connection pool on the cluster's database, for the test's own reads. */
  db: pg.Pool
  /** The node whose id is `id`. */
  node: (id: string) => Node
}

/** Settings every node gets: short leases and polls, so that failures are noticed within seconds. */
export const NODE_ENV = {
  JOBCAST_LEASE_MS: '2000',
  JOBCAST_POLL_MS: '200',
  JOBCAST_CONCURRENCY: '4',
  JOBCAST_USER_CONCURRENCY: '3',
  JOBCAST_PROGRESS_INTERVAL_MS: '20',
  JOBCAST_SHUTDOWN_GRACE_MS: '0',
  JOBCAST_BUILT_INS: 'sleep',
  JOBCAST_TOKENS: USERS.map((u) => `${u}:${tokenOf(u)}`).join(',')
}

/**
 * Starts `count` nodes on a new database (dropped on teardown, after the nodes are killed), on the shared server
 * unless `serverUrl` names another.
 */
export async function startCluster (t: Teardown, count = 3, serverUrl?: string): Promise<Cluster> {
  const database = await createTestDatabase(serverUrl)
  const root = mkdtempSync(join(tmpdir(), 'jobcast-cluster-'))
  const db = new pg.Pool({ connectionString: database.url, max: 4 })
  db.on('error', () => {}) // the restart test drops these connections; the pool reconnects
  await db.query(PROBE_TABLE)
  // Registered first, run last (tap runs teardowns in reverse): the nodes are killed before the database goes.
  t.teardown(async () => {
    await db.end().catch(() => {})
    await database.drop()
    rmSync(root, { recursive: true, force: true })
  })
  const nodes = await Promise.all(Array.from({ length: count }, async (_, i) => {
    const id = `n${i + 1}`
    const server = await startChildServer(t, {
      ...NODE_ENV,
      JOBCAST_DATABASE_URL: database.url,
      JOBCAST_NODE_ID: id,
      JOBCAST_DATA_DIR: join(root, id),
      JOBCAST_FILES_DIR: join(root, 'files')
    }, ['--jobs', 'test/cluster/jobs'])
    // CLUSTER_LOG_DIR=<dir>: each node's output is kept there, to read after a failure.
    if (process.env.CLUSTER_LOG_DIR !== undefined) t.teardown(() => { writeFileSync(join(process.env.CLUSTER_LOG_DIR!, `${id}.log`), server.output()) })
    return { ...server, id }
  }))
  return { nodes, db, node: (id) => nodes.find((n) => n.id === id)! }
}

/** The Authorization header of `user`. */
export function auth (user: User): Record<string, string> {
  return { authorization: `Bearer ${tokenOf(user)}` }
}

/** POSTs a start of `type` through `node`; resolves with the status and body. */
export async function start (node: Node, user: User, type: string, input: unknown): Promise<{ status: number, body: { id: string, code?: string } }> {
  const res = await fetch(`${node.url}/api/jobs/${type}`, { method: 'POST', headers: { ...auth(user), 'content-type': 'application/json' }, body: JSON.stringify(input), signal: AbortSignal.timeout(10_000) })
  return { status: res.status, body: await res.json() as { id: string } }
}

/** Starts a job and returns its id; fails the caller unless the start answers 202. */
export async function started (node: Node, user: User, type: string, input: unknown): Promise<string> {
  const { status, body } = await start(node, user, type, input)
  if (status !== 202) throw new Error(`start through ${node.id} answered ${status}: ${JSON.stringify(body)}`)
  return body.id
}

/** The stored state (and attempt, node) of jobs, by id. */
export async function jobRows (db: pg.Pool, ids: string[]): Promise<Array<{ id: string, state: string, attempt: number, lease_node: string | null }>> {
  const { rows } = await db.query('SELECT id, state, attempt, lease_node FROM jobcast.jobs WHERE id = ANY($1)', [ids])
  return rows
}

/** Until every job of `ids` is in a final state (read from the database); resolves with their rows. */
export async function allEnded (db: pg.Pool, ids: string[], timeoutMs: number): Promise<Awaited<ReturnType<typeof jobRows>>> {
  return await pollUntil(async () => {
    const rows = await jobRows(db, ids)
    return rows.length === ids.length && rows.every((r) => ['completed', 'failed', 'canceled'].includes(r.state)) ? rows : undefined
  }, `${ids.length} jobs to end`, timeoutMs, 100)
}

/** The status `/healthz` of `node` answers now (0 when it does not answer). */
export async function healthStatus (node: Node): Promise<number> {
  return await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 0)
}

/**
 * The most probes of `type` that ran at once: in all, per owner, or per node (peak over the partitions), from
 * their recorded start and stop times (PostgreSQL's clock). A run without a stop counts until `openUntil`.
 */
export async function peak (db: pg.Pool, type: string, by: 'all' | 'owner' | 'node', openUntil = 'infinity'): Promise<number> {
  const partition = by === 'all' ? '' : `PARTITION BY ${by}`
  const { rows } = await db.query<{ peak: number | null }>(`
    WITH ev AS (
      SELECT started_at AS at, 1 AS d, owner, node FROM probe_runs WHERE type = $1
      UNION ALL SELECT coalesce(stopped_at, $2::timestamptz), -1, owner, node FROM probe_runs WHERE type = $1
    )
    SELECT max(n)::int AS peak FROM (SELECT sum(d) OVER (${partition} ORDER BY at, d ROWS UNBOUNDED PRECEDING) AS n FROM ev) x`, [type, openUntil])
  return rows[0]?.peak ?? 0
}

/** PostgreSQL's clock now (the probes' clock). */
export async function dbNow (db: pg.Pool): Promise<string> {
  const { rows } = await db.query<{ now: Date }>('SELECT clock_timestamp() AS now')
  return rows[0]!.now.toISOString()
}
