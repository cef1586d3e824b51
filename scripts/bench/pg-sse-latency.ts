// Cross-node SSE delivery: progress() on one node → the event on a client of another node, beside the same node.
// Two nodes on one database; a client on n1 (GET /api/events); JOBS tick jobs (COUNT progress updates EVERY ms
// apart, each carrying the time it was made) started alternately through n1 and n2. Each sample is the delay from
// progress() to the client's read of the event, classed by the node that ran the job (its result names it).
//
//   node --import tsx scripts/bench/pg-sse-latency.ts   (env: JOBS=10 COUNT=50 EVERY=20; PostgreSQL on 127.0.0.1:5432)
import { loadavg } from 'node:os'
import { openSse } from '../../test/sse/sse-client.ts'
import { envInt, fmt, pct } from './lib.ts'
import { createDatabase, startNodes } from './pg-nodes.ts'

const JOBS = envInt('JOBS', 10)
const COUNT = envInt('COUNT', 50)
const EVERY = envInt('EVERY', 20)

const db = await createDatabase()
const nodes = await startNodes(db.url, 2)
try {
  const client = await openSse(`${nodes[0]!.url}/api/events`, { headers: nodes[0]!.auth })
  await client.next((e) => e.event === 'snapshot')
  const delays = new Map<string, number[]>() // job id → delays
  const ranOn = new Map<string, string>()
  const reading = (async () => {
    for (;;) {
      const e = await client.next()
      const now = performance.timeOrigin + performance.now()
      const view = JSON.parse(e.data) as { id: string, progress?: { message?: string }, result?: { node?: string } }
      if (e.event === 'progress' && view.progress?.message !== undefined) delays.set(view.id, [...delays.get(view.id) ?? [], now - Number(view.progress.message)])
      if (e.event === 'completed') ranOn.set(view.id, view.result?.node ?? '?')
    }
  })().catch(() => {})
  for (let i = 0; i < JOBS; i++) {
    const node = nodes[i % 2]!
    await fetch(`${node.url}/api/jobs/tick`, { method: 'POST', headers: { ...node.auth, 'content-type': 'application/json' }, body: JSON.stringify({ count: COUNT, everyMs: EVERY }) })
  }
  const deadline = Date.now() + 120_000
  while (ranOn.size < JOBS && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  await client.close()
  await reading
  const same = [...delays].filter(([id]) => ranOn.get(id) === 'n1').flatMap(([, d]) => d)
  const cross = [...delays].filter(([id]) => ranOn.get(id) === 'n2').flatMap(([, d]) => d)
  const line = (what: string, xs: number[]): string => `| ${what} | ${xs.length} | ${fmt(pct(xs, 50), 1)} | ${fmt(pct(xs, 99), 1)} |`
  console.log('| progress() → client on n1 | samples | p50 ms | p99 ms |')
  console.log('|---|---|---|---|')
  console.log(line('job on n1 (same node)', same))
  console.log(line('job on n2 (across nodes, through PostgreSQL)', cross))
  console.log(`load average (1 min): ${loadavg()[0]!.toFixed(2)}`)
} finally {
  await Promise.all(nodes.map(async (n) => { await n.stop() }))
  await db.drop()
}
