// Three server processes on one PostgreSQL database (test/cluster/cluster-harness.ts), every guarantee checked
// across them: bounds, fairness, streams, cancel, a killed node. The cases share the cluster and run in order,
// each with users of its own; the last takes a node down. (A restarted database: database-restart.test.ts.)
import t from 'tap'
import { pollUntil } from '../child-server.ts'
import { openSse, type SseClient, type SseEvent } from '../sse/sse-client.ts'
import { allEnded as jobsEnded, auth, dbNow, jobRows, peak, started, startCluster, type Node, type User } from './cluster-harness.ts'

const cluster = await startCluster(t)
const { nodes, db } = cluster
const [n1, n2, n3] = nodes as [Node, Node, Node]

// Until every job of `ids` is in a final state; resolves with their rows.
async function allEnded (ids: string[], timeoutMs: number): ReturnType<typeof jobsEnded> {
  return await jobsEnded(db, ids, timeoutMs)
}

// The node that runs job `id` now (its lease), once it runs.
async function runningOn (id: string): Promise<Node> {
  const nodeId = await pollUntil(async () => {
    const [row] = await jobRows(db, [id])
    return row?.state === 'running' ? row.lease_node ?? undefined : undefined
  }, `job ${id} to run`, 10_000)
  return cluster.node(nodeId)
}

t.test('jobs started through all three nodes run within the cluster-wide bounds', async (t) => {
  const users: User[] = ['alice', 'bob', 'carol', 'dave']
  const ids = await Promise.all(Array.from({ length: 48 }, async (_, i) => await started(nodes[i % 3]!, users[i % 4]!, 'probe', { ms: 300 })))
  const rows = await allEnded(ids, 30_000)
  t.ok(rows.every((r) => r.state === 'completed'), 'all 48 completed')
  t.equal(await peak(db, 'probe', 'all'), 6, 'the type\'s bound of 6 held across the cluster, and was reached')
  t.ok(await peak(db, 'probe', 'owner') <= 3, 'no user ever had more than JOBCAST_USER_CONCURRENCY=3 running, across nodes')
  t.ok(await peak(db, 'probe', 'node') <= 4, 'no node ran more than JOBCAST_CONCURRENCY=4')
  const { rows: spread } = await db.query<{ n: number }>("SELECT count(DISTINCT node)::int AS n FROM probe_runs WHERE type = 'probe'")
  t.equal(spread[0]!.n, 3, 'every node ran some')
})

t.test('a user\'s 200 queued jobs do not delay another user\'s job beyond the running ones, whichever node', async (t) => {
  // erin's backlog fills probe-narrow's 2 cluster-wide slots; frank starts one through another node.
  const backlog: string[] = []
  for (let i = 0; i < 200; i += 20) backlog.push(...await Promise.all(Array.from({ length: 20 }, async () => await started(n1, 'erin', 'probe-narrow', { ms: 300 }))))
  await pollUntil(async () => (await db.query("SELECT 1 FROM probe_runs WHERE owner = 'erin' AND stopped_at IS NULL")).rowCount === 2 ? true : undefined, 'erin\'s jobs to fill the type\'s two slots', 10_000)
  const before = await dbNow(db)
  const frank = await started(n3, 'frank', 'probe-narrow', { ms: 0 })
  const [row] = await allEnded([frank], 10_000)
  t.equal(row!.state, 'completed')
  const { rows } = await db.query<{ n: number }>(`
    SELECT count(*)::int AS n FROM probe_runs e, probe_runs f
    WHERE f.job_id = $1 AND e.owner = 'erin' AND e.started_at > $2 AND e.started_at < f.started_at`, [frank, before])
  t.ok(rows[0]!.n <= 2, `at most the 2 running slots went to erin before frank (${rows[0]!.n}); FIFO would be ~198`)
  const { rows: waiting } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobcast.jobs WHERE owner = 'erin' AND state = 'queued'")
  t.ok(waiting[0]!.n > 150, 'erin\'s backlog was still waiting')
  // The backlog is of no further use: out of the way of the next cases.
  await db.query("DELETE FROM jobcast.jobs WHERE owner = 'erin' AND state = 'queued'")
})

t.test('a stream on one node sees every event of a job that runs on another; a reconnect to a third resumes without a gap', async (t) => {
  // A client that stays and one that will leave, on every node: which node runs the job is known only once it runs.
  const open = async (node: Node, headers: Record<string, string> = {}): Promise<SseClient> => {
    const client = await openSse(`${node.url}/api/events`, { headers: { ...auth('alice'), ...headers } })
    t.teardown(client.close)
    return client
  }
  const stayers = await Promise.all(nodes.map(async (n) => await open(n)))
  const leavers = await Promise.all(nodes.map(async (n) => await open(n)))
  await Promise.all([...stayers, ...leavers].map(async (c) => await c.next((e) => e.event === 'snapshot')))
  const id = await started(n2, 'alice', 'probe', { ms: 2000, steps: 20 })
  const runner = await runningOn(id)
  const a = nodes.findIndex((n) => n !== runner)
  const c = nodes.findIndex((n, i) => i !== a && n !== runner)
  const ofJob = (e: SseEvent): boolean => e.event !== 'snapshot' && (JSON.parse(e.data) as { id?: string }).id === id
  const withinTimeout = async <T>(p: Promise<T>, what: string): Promise<T> => await Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => { reject(new Error(`timed out: ${what}`)) }, 15_000).unref())])

  const leaver = leavers[a]!
  for (let i = 0; i < 5; i++) await withinTimeout(leaver.next((e) => ofJob(e) && e.event === 'progress'), 'progress on the leaver')
  await leaver.close()
  const lastId = leaver.lastEventId!
  // Events go on while it is away.
  for (let i = 0; i < 3; i++) await withinTimeout(stayers[a]!.next((e) => ofJob(e) && e.event === 'progress'), 'progress while away')
  const back = await open(nodes[c]!, { 'last-event-id': lastId })
  await withinTimeout(back.next((e) => ofJob(e) && e.event === 'completed'), 'completed after the reconnect')
  const stayer = stayers[a]!
  await withinTimeout(stayer.next((e) => ofJob(e) && e.event === 'completed'), 'completed on the stayer')

  const seen = stayer.events.filter(ofJob)
  t.same(seen.map((e) => e.event).filter((k) => k !== 'progress'), ['queued', 'started', 'completed'], `node ${nodes[a]!.id} saw the job that ran on ${runner.id}, in order`)
  t.ok(seen.filter((e) => e.event === 'progress').length >= 10, 'with its progress')
  const seqs = seen.map((e) => Number(e.id!.split('-')[1]))
  t.same(seqs, [...seqs].sort((x, y) => x - y), 'in cursor order')
  t.notOk(back.events.some((e) => e.event === 'snapshot'), 'the cursor from one node replays on another: no snapshot')
  const union = [...leaver.events.filter(ofJob), ...back.events.filter(ofJob)]
  t.same(union, seen, `the leaver's events on ${nodes[a]!.id} and ${nodes[c]!.id} together equal the stayer's, no gap, no repeat`)
})

t.test('each change is counted by the node that made it: summed over the nodes, /metrics counts every job once', async (t) => {
  // sleep runs in no other case here; dave's jobs start through every node and run wherever they are claimed.
  const ids = await Promise.all(nodes.flatMap((node) => [0, 1].map(async () => await started(node, 'dave', 'sleep', { seconds: 0, steps: 1 }))))
  const rows = await allEnded(ids, 20_000)
  t.ok(rows.every((r) => r.state === 'completed'))
  const counted = async (event: string): Promise<number> => {
    let sum = 0
    for (const node of nodes) {
      const text = await (await fetch(`${node.url}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
      sum += Number(new RegExp(`^jobcast_job_events_total\\{type="sleep",event="${event}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)
    }
    return sum
  }
  // A terminal event is counted when its node hears its own publish, just after the write that the rows show.
  await pollUntil(async () => await counted('completed') >= ids.length ? true : undefined, 'every completion to be counted', 5000)
  t.equal(await counted('queued'), ids.length, 'queued: once per job in all')
  t.equal(await counted('started'), ids.length, 'started: once per job in all')
  t.equal(await counted('completed'), ids.length, 'completed: once per job in all')
})

t.test('a cancel sent to one node stops the handler running on another', async (t) => {
  const id = await started(n1, 'bob', 'probe', { ms: 60_000 })
  const runner = await runningOn(id)
  await pollUntil(async () => (await db.query('SELECT 1 FROM probe_runs WHERE job_id = $1', [id])).rowCount === 1 ? true : undefined, 'the handler to start', 10_000)
  const other = nodes.find((n) => n !== runner)!
  const asked = await dbNow(db)
  const res = await fetch(`${other.url}/api/jobs/${id}/cancel`, { method: 'POST', headers: auth('bob'), signal: AbortSignal.timeout(10_000) })
  t.equal(res.status, 200)
  t.equal((await res.json() as { state: string }).state, 'canceled', `canceled through ${other.id} while it ran on ${runner.id}`)
  const { rows } = await db.query<{ outcome: string, ms: number }>(
    'SELECT outcome, extract(epoch FROM stopped_at - $2::timestamptz) * 1000 AS ms FROM probe_runs WHERE job_id = $1', [id, asked])
  t.equal(rows[0]!.outcome, 'canceled', 'the handler saw its signal fire')
  t.ok(rows[0]!.ms < 1000, `and stopped within a second (${Math.round(rows[0]!.ms)} ms)`)
})

t.test('SIGKILL of the node running a job: another node completes it (attempt 2) within the lease plus a few seconds; nothing is lost', async (t) => {
  const ids = await Promise.all(Array.from({ length: 9 }, async (_, i) => await started(nodes[i % 3]!, i % 2 === 0 ? 'carol' : 'dave', 'probe', { ms: 1500, steps: 3 })))
  const target = ids[0]!
  const victim = await runningOn(target)
  await pollUntil(async () => (await db.query('SELECT 1 FROM probe_runs WHERE job_id = $1', [target])).rowCount === 1 ? true : undefined, 'its handler to start', 10_000)
  await victim.kill()
  const killedAt = await dbNow(db)
  const rows = await allEnded(ids, 2000 + 1500 + 6000)
  t.ok(rows.every((r) => r.state === 'completed'), 'every job accepted with a 202 completed')
  t.equal(rows.find((r) => r.id === target)!.attempt, 2, 'the killed node\'s job ran again as attempt 2')
  const { rows: runs } = await db.query<{ node: string, attempt: number, after: boolean }>(
    'SELECT node, attempt, started_at > $2 AS after FROM probe_runs WHERE job_id = $1 ORDER BY attempt', [target, killedAt])
  t.same(runs.map((r) => [r.node === victim.id, r.attempt]), [[true, 1], [false, 2]], 'attempt 2 on another node')
  t.ok(runs[1]!.after, 'started after the kill')
  // No two runs of one job overlap (a run cut short by the kill counts until the kill).
  const { rows: overlaps } = await db.query(`
    SELECT a.job_id FROM probe_runs a JOIN probe_runs b ON a.job_id = b.job_id AND a.id < b.id
    WHERE a.job_id = ANY($1) AND b.started_at < coalesce(a.stopped_at, $2::timestamptz) AND a.started_at < coalesce(b.stopped_at, $2::timestamptz)`, [ids, killedAt])
  t.same(overlaps, [], 'no job ever ran on two live nodes at once')
})

t.test('a cancel of a job whose node was killed: answered canceled once its lease is out, and the job never runs again', async (t) => {
  const live = nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null)
  const id = await started(live[0]!, 'erin', 'probe', { ms: 60_000 })
  const victim = await runningOn(id)
  await pollUntil(async () => (await db.query('SELECT 1 FROM probe_runs WHERE job_id = $1', [id])).rowCount === 1 ? true : undefined, 'its handler to start', 10_000)
  await victim.kill()
  const other = live.find((n) => n !== victim)!
  // Its lease (2 s) still holds: the node cannot be asked; the cancel waits for the lease, then ends the job.
  const res = await fetch(`${other.url}/api/jobs/${id}/cancel`, { method: 'POST', headers: auth('erin'), signal: AbortSignal.timeout(15_000) })
  t.equal(res.status, 200)
  const body = await res.json() as { state: string, error: { code: string } | null }
  t.equal(body.state, 'canceled', `canceled through ${other.id} after ${victim.id} died running it`)
  t.equal(body.error?.code, 'CANCELED')
  const [row] = await jobRows(db, [id])
  t.same([row!.state, row!.attempt], ['canceled', 1], 'stored canceled, at its first attempt')
  // Reapers go on looking every lease/2: none of them queues it again.
  await pollUntil(async () => (await db.query('SELECT 1 FROM jobcast.jobs WHERE state = \'running\' AND lease_node = $1', [victim.id])).rowCount === 0 ? true : undefined, 'the dead node\'s other jobs to be reaped', 10_000)
  const { rows: runs } = await db.query('SELECT node FROM probe_runs WHERE job_id = $1', [id])
  t.equal(runs.length, 1, 'its handler ran once, on the node that died')
})
