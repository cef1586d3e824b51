// PostgreSQL goes away under a running cluster and comes back: on a private server of this test's own
// (test/adapters/postgres/private-server.ts), so that the machine's shared one is never touched.
import t from 'tap'
import { pollUntil } from '../child-server.ts'
import { startPrivateServer } from '../adapters/postgres/private-server.ts'
import { allEnded, healthStatus, jobRows, start, started, startCluster, type Node, type User } from './cluster-harness.ts'

const server = await startPrivateServer(t)

t.test('PostgreSQL restarted during a run: 503s meanwhile, the nodes recover by themselves, every accepted job ends', { skip: typeof server === 'string' ? server : false }, async (t) => {
  if (typeof server === 'string') return
  const { nodes, db } = await startCluster(t, 3, server.url)
  const users: User[] = ['alice', 'bob', 'carol']
  // Load: more than the cluster runs at once, so that claims, heartbeats and outcome writes are all under way.
  const accepted = await Promise.all(Array.from({ length: 24 }, async (_, i) => await started(nodes[i % 3]!, users[i % 3]!, 'sleep', { seconds: 1.5, steps: 3 })))
  await pollUntil(async () => (await jobRows(db, accepted)).filter((r) => r.state === 'running').length >= 3 ? true : undefined, 'jobs to run', 10_000)

  // Through the whole outage, starts keep coming on every node: each must answer 202 or a 503 with a code.
  const refusals = new Set<string>()
  let probing = true
  const prober = (async () => {
    for (let i = 0; probing; i++) {
      const res = await start(nodes[i % 3]!, users[i % 3]!, 'sleep', { seconds: 0.2, steps: 1 }).catch(() => undefined)
      if (res?.status === 202) accepted.push(res.body.id)
      else if (res !== undefined) refusals.add(`${res.status} ${res.body.code}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })()
  const downOn = new Map<Node, { health: number, start: { status: number, code?: string | undefined } }>()
  let away = false
  try {
    await server.stop()
    away = true
    for (const node of nodes) {
      const health = await pollUntil(async () => { const s = await healthStatus(node); return s === 503 ? s : undefined }, `${node.id} to report unhealthy`, 15_000, 50)
      const res = await start(node, 'dave', 'sleep', { seconds: 0.1 }).catch((err: Error) => ({ status: 0, body: { id: '', code: err.message } }))
      downOn.set(node, { health, start: { status: res.status, code: res.body.code } })
    }
    await server.start()
    away = false
    for (const node of nodes) await pollUntil(async () => await healthStatus(node) === 200 ? true : undefined, `${node.id} healthy again`, 30_000, 100)
  } finally {
    probing = false
    await prober
    // Back up whatever failed: the teardown drops the database on it.
    if (away) await server.start()
  }
  for (const [node, seen] of downOn) {
    t.equal(seen.health, 503, `${node.id}: /healthz answered 503 while the database was away`)
    t.same(seen.start, { status: 503, code: 'STORE_UNAVAILABLE' }, `${node.id}: a start it could not commit was refused with 503 and a code`)
  }
  t.same([...refusals].filter((r) => r !== '503 STORE_UNAVAILABLE'), [], `under load, refused starts were 503 STORE_UNAVAILABLE only (${[...refusals].join(', ') || 'none'})`)
  t.ok(refusals.size > 0, 'some starts came while the database was away')
  const rows = await allEnded(db, accepted, 30_000)
  t.equal(rows.length, accepted.length, `every one of the ${accepted.length} accepted jobs ended`)
  t.comment(`ended: ${rows.filter((r) => r.state === 'completed').length} completed, others: ${rows.filter((r) => r.state !== 'completed').map((r) => r.state).join(', ') || 'none'}`)
  // Healthy once is not enough: the nodes stay healthy and keep taking work after the restart.
  const after = await Promise.all(nodes.map(async (node, i) => await started(node, users[i]!, 'sleep', { seconds: 0.1 })))
  t.ok((await allEnded(db, after, 15_000)).every((r) => r.state === 'completed'), 'a job started on each node afterwards completed')
  for (const node of nodes) t.equal(await healthStatus(node), 200, `${node.id} is still healthy`)
})
