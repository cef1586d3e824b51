// jobcast on PostgreSQL with 1, 2 and 3 nodes beside pg-boss and BullMQ doing the same, in one run: N no-op jobs
// started by one producer (INFLIGHT starts in flight), run by NODES worker processes at CONC each. Reports the
// throughput from the first start to the last completion the producer learns of, the start→completed latency of
// those jobs under that load, and of LAT jobs started one at a time (unloaded). Then the SSE delivery latency of
// progress() on one node to a client on another, beside the same node (pg-sse-latency.ts).
//
// How each producer learns of a completion: jobcast through an SSE stream (/api/events on node 1, so most
// completions cross nodes), BullMQ through QueueEvents (Redis streams), pg-boss by polling (it has no events:
// its job table every 10 ms for the throughput, getJobById every 5 ms for a latency).
//
// USERS (default 1): jobcast's starts go round-robin over that many users (one SSE stream each on node 1); an
// owner's events are ordered by a row lock of that owner, which every commit carrying one of its events takes.
//
//   node --import tsx scripts/bench/pg-cluster.ts   (env: N=3000 LAT=200 NODES=1,2,3 CONC=16 INFLIGHT=50 USERS=1
//     SYSTEMS=jobcast,pgboss,bullmq REDIS_PORT=6379 BULLMQ_DIR=/work/shared/bench/bullmq; PostgreSQL on 127.0.0.1:5432)
import { spawn, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import pg from 'pg'
import { envInt, envInts, fmt, killChild, pct } from './lib.ts'
import { createDatabase, startNodes, type BenchNode } from './pg-nodes.ts'
import { openSse } from '../../test/sse/sse-client.ts'

const N = envInt('N', 3000)
const LAT = envInt('LAT', 200)
const NODES = envInts('NODES', [1, 2, 3])
const CONC = envInt('CONC', 16)
const INFLIGHT = envInt('INFLIGHT', 50)
const USERS = envInt('USERS', 1)
const SYSTEMS = (process.env.SYSTEMS ?? 'jobcast,pgboss,bullmq').split(',')
const REDIS_PORT = envInt('REDIS_PORT', 6379)
const BULLMQ_DIR = process.env.BULLMQ_DIR ?? '/work/shared/bench/bullmq'

/** One system at one node count. */
interface Row { system: string, nodes: number, jobsPerS: number, loadedP50: number, loadedP99: number, idleP50: number, idleP99: number }

/** What each system offers the driver: start a job (resolving with its id), and hear completions. */
interface Driver {
  start: (i: number) => Promise<string>
  onCompleted: (listener: (id: string, at: number) => void) => void
  /** Undefined: completions are heard through onCompleted; else how the driver waits for one job. */
  waitOne?: (id: string) => Promise<number>
  close: () => Promise<void>
}

async function measure (system: string, nodes: number, driver: Driver): Promise<Row> {
  const startedAt = new Map<string, number>()
  const doneAt = new Map<string, number>()
  let waiting: { id: string, resolve: (at: number) => void } | undefined
  let onAll: (() => void) | undefined
  driver.onCompleted((id, at) => {
    doneAt.set(id, at)
    if (waiting?.id === id) waiting.resolve(at)
    if (doneAt.size >= N && onAll !== undefined) onAll()
  })
  // Loaded: N starts, INFLIGHT at a time.
  const all = new Promise<void>((resolve) => { onAll = resolve })
  const t0 = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: INFLIGHT }, async () => {
    while (next < N) {
      const i = next++
      const at = performance.now()
      startedAt.set(await driver.start(i), at)
    }
  }))
  await all
  const tEnd = Math.max(...doneAt.values())
  const loaded = [...startedAt].map(([id, at]) => doneAt.get(id)! - at)
  // Unloaded: one at a time.
  const idle: number[] = []
  for (let i = 0; i < LAT; i++) {
    const at = performance.now()
    const done = new Promise<number>((resolve) => { waiting = { id: '', resolve } })
    const id = await driver.start(N + i)
    if (doneAt.has(id)) idle.push(doneAt.get(id)! - at)
    else {
      waiting!.id = id
      idle.push((driver.waitOne === undefined ? await done : await driver.waitOne(id)) - at)
    }
  }
  await driver.close()
  return { system, nodes, jobsPerS: N / ((tEnd - t0) / 1000), loadedP50: pct(loaded, 50), loadedP99: pct(loaded, 99), idleP50: pct(idle, 50), idleP99: pct(idle, 99) }
}

async function jobcast (nodes: number): Promise<Row> {
  const db = await createDatabase()
  const cluster = await startNodes(db.url, nodes, { JOBCAST_CONCURRENCY: String(CONC) }, USERS)
  const streams = await Promise.all(Array.from({ length: USERS }, async (_, u) => await openSse(`${cluster[0]!.url}/api/events`, { headers: cluster[0]!.authOf(u) })))
  const listeners: Array<(id: string, at: number) => void> = []
  const reading = Promise.all(streams.map(async (sse) => {
    for (;;) {
      const e = await sse.next((event) => event.event === 'completed')
      const at = performance.now()
      const { id } = JSON.parse(e.data) as { id: string }
      for (const l of listeners) l(id, at)
    }
  })).catch(() => {}) // ends with the streams
  let stopped: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopped ??= (async () => {
      await Promise.all(streams.map(async (sse) => { await sse.close() }))
      await reading
      await Promise.all(cluster.map(async (n) => { await n.stop() }))
      await db.drop()
    })()
    await stopped
  }
  // A failed run stops its nodes too (they would keep the benchmark's output open, and the process alive).
  const row = await measure('jobcast', nodes, {
    start: async (i) => {
      const node = cluster[i % nodes]!
      const res = await fetch(`${node.url}/api/jobs/noop`, { method: 'POST', headers: { ...node.authOf(Math.floor(i / nodes) % USERS), 'content-type': 'application/json' }, body: '{}' })
      if (res.status !== 202) throw new Error(`start answered ${res.status}: ${await res.text()}`)
      return (await res.json() as { id: string }).id
    },
    onCompleted: (l) => { listeners.push(l) },
    close: stop
  }).catch(async (err: unknown) => {
    await stop()
    throw err
  })
  return row
}

async function workers (kind: string, count: number, env: Record<string, string>): Promise<ChildProcess[]> {
  return await Promise.all(Array.from({ length: count }, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'pg-peer-worker.ts'), kind], { env: { ...process.env, ...env, CONC: String(CONC) }, stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => { if (chunk.toString().includes('ready')) resolve() })
      child.once('exit', (code) => { reject(new Error(`${kind} worker exited with ${code}`)) })
    })
    return child
  }))
}

async function stopAll (children: ChildProcess[]): Promise<void> {
  await Promise.all(children.map(async (c) => { const exited = new Promise((resolve) => c.once('exit', resolve)); killChild(c); await exited }))
}

async function pgboss (nodes: number): Promise<Row> {
  const db = await createDatabase()
  const { default: PgBoss } = await import('pg-boss')
  const boss = new PgBoss({ connectionString: db.url, max: 10, supervise: false, schedule: false })
  boss.on('error', (err: unknown) => { console.error(err) })
  await boss.start()
  await boss.createQueue('noop')
  const peers = await workers('pgboss', nodes, { DATABASE_URL: db.url, QUEUE: 'noop' })
  const poll = new pg.Pool({ connectionString: db.url, max: 2 })
  const listeners: Array<(id: string, at: number) => void> = []
  const known = new Set<string>()
  // Completions, polled: pg-boss has no event stream (its job table, state 'completed').
  let polling = true
  const poller = (async () => {
    while (polling) {
      const { rows } = await poll.query<{ id: string }>("SELECT id FROM pgboss.job WHERE name = 'noop' AND state = 'completed' AND completed_on > now() - interval '10 minutes'")
      const at = performance.now()
      for (const { id } of rows) if (!known.has(id)) { known.add(id); for (const l of listeners) l(id, at) }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })()
  const row = await measure('pg-boss', nodes, {
    start: async () => (await boss.send('noop', {}))!,
    onCompleted: (l) => { listeners.push(l) },
    waitOne: async (id) => {
      for (;;) {
        const job = await boss.getJobById('noop', id)
        if (job?.state === 'completed') return performance.now()
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    },
    close: async () => {
      polling = false
      await poller
      await stopAll(peers)
      await boss.stop({ graceful: false, wait: true })
      await poll.end()
      await db.drop()
    }
  })
  return row
}

async function bullmq (nodes: number): Promise<Row> {
  type Queue = { add: (name: string, data: object, opts: object) => Promise<{ id?: string }>, obliterate: (o: object) => Promise<void>, close: () => Promise<void>, waitUntilReady: () => Promise<unknown> }
  type QueueEvents = { on: (e: string, fn: (a: { jobId: string }) => void) => void, close: () => Promise<void>, waitUntilReady: () => Promise<unknown> }
  const lib = await import(pathToFileURL(join(BULLMQ_DIR, 'node_modules/bullmq/dist/esm/index.js')).href) as { Queue: new (n: string, o: object) => Queue, QueueEvents: new (n: string, o: object) => QueueEvents }
  // In native ESM, BullMQ takes constructed ioredis clients (installed beside it); QueueEvents blocks on its own.
  const IORedis = createRequire(join(BULLMQ_DIR, 'package.json'))('ioredis') as new (o: object) => { quit: () => Promise<unknown> }
  const redis = (): { quit: () => Promise<unknown> } => new IORedis({ host: '127.0.0.1', port: REDIS_PORT, maxRetriesPerRequest: null })
  const [producer, listener] = [redis(), redis()]
  const name = `pgbench-${process.pid}-${nodes}-${Date.now()}`
  const queue = new lib.Queue(name, { connection: producer })
  const events = new lib.QueueEvents(name, { connection: listener })
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()])
  const peers = await workers('bullmq', nodes, { QUEUE: name, REDIS_PORT: String(REDIS_PORT), BULLMQ_DIR })
  const row = await measure('BullMQ', nodes, {
    start: async () => (await queue.add('noop', {}, { removeOnComplete: true }))!.id!,
    onCompleted: (l) => { events.on('completed', ({ jobId }) => { l(jobId, performance.now()) }) },
    close: async () => {
      await stopAll(peers)
      await events.close()
      await queue.obliterate({ force: true })
      await queue.close()
      await Promise.all([producer.quit(), listener.quit()])
    }
  })
  return row
}

const rows: Row[] = []
const load: number[][] = []
const runners: Record<string, (nodes: number) => Promise<Row>> = { jobcast, pgboss, bullmq }
for (const nodes of NODES) {
  for (const system of SYSTEMS) {
    const cpu = process.cpuUsage()
    const row = await runners[system]!(nodes)
    const used = process.cpuUsage(cpu)
    if (process.env.CPU_REPORT === '1') console.error(`cpu producer: ${((used.user + used.system) / 1e6).toFixed(2)} s`)
    load.push(loadavg())
    rows.push(row)
    console.error(`${row.system} ×${nodes}: ${fmt(row.jobsPerS)} jobs/s; start→completed loaded p50 ${fmt(row.loadedP50, 1)} / p99 ${fmt(row.loadedP99, 1)} ms, one at a time p50 ${fmt(row.idleP50, 1)} / p99 ${fmt(row.idleP99, 1)} ms`)
  }
}
console.log('| system | nodes | jobs/s | loaded p50 / p99 ms | one at a time p50 / p99 ms |')
console.log('|---|---|---|---|---|')
for (const r of rows) console.log(`| ${r.system} | ${r.nodes} | ${fmt(r.jobsPerS)} | ${fmt(r.loadedP50, 1)} / ${fmt(r.loadedP99, 1)} | ${fmt(r.idleP50, 1)} / ${fmt(r.idleP99, 1)} |`)
console.log(`load average (1 min) after each run: ${load.map((l) => l[0]!.toFixed(2)).join(', ')}`)
console.log(JSON.stringify({ N, LAT, CONC, INFLIGHT, rows, load }))
