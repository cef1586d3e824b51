// SSE benchmark: memory per open stream and progress-event latency with 10,000 streams open, beside a BullMQ
// QueueEvents listener on the local Redis delivering the same progress events.
//
//   node --import tsx scripts/bench/sse-connections.ts
//   env: USERS=100 PER_USER=100 (streams = USERS × PER_USER), JOBS=100 (one per user, ≤ USERS), UPDATES=20,
//        GAP_MS=100 (between two progress() calls of a job), INTERVAL_MS=0 (JOBCAST_PROGRESS_INTERVAL_MS),
//        RUNS=5, BULLMQ=1 (0 skips it), REDIS_PORT=6379, STAGGER=1 (job i's first progress i/JOBS of a gap late, as
//        unsynchronized jobs are; STAGGER=0: all jobs report in lockstep, the worst burst)
//
// Processes: this driver; the jobcast server (scripts/bench/sse-server.ts); the SSE load client
// (scripts/bench/sse-load.ts); per BullMQ run a Worker child (scripts/bench/sse-bullmq-worker.ts), the
// QueueEvents listener being in this driver. Every child is killed on exit; every wait has a time limit.
import { fork, execSync, type ChildProcess } from 'node:child_process'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import { envInt, fmt, median, pct } from './lib.ts'
import { BULLMQ_DIR } from './sse-bullmq-worker.ts'

const USERS = envInt('USERS', 100)
const PER_USER = envInt('PER_USER', 100)
const JOBS = Math.min(USERS, envInt('JOBS', 100))
const UPDATES = envInt('UPDATES', 20)
const GAP_MS = envInt('GAP_MS', 100)
const INTERVAL_MS = Number(process.env.INTERVAL_MS ?? 0)
const RUNS = envInt('RUNS', 5)
const WITH_BULLMQ = process.env.BULLMQ !== '0'
const STAGGER = process.env.STAGGER !== '0'
const STREAMS = USERS * PER_USER
const here = new URL('.', import.meta.url).pathname

const children = new Set<ChildProcess>()
const killAll = (): void => { for (const child of children) child.kill('SIGKILL') }
process.on('exit', killAll)
process.on('SIGINT', () => { killAll(); process.exit(130) })

function spawnTs (file: string, args: string[], env: Record<string, string>, execArgv: string[] = []): ChildProcess {
  const child = fork(`${here}${file}`, args, { execArgv: ['--import', 'tsx', ...execArgv], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.add(child)
  child.once('exit', () => { children.delete(child) })
  return child
}

/** The next message of `type` from `child`, within `timeoutMs`. */
async function reply<T = Record<string, unknown>> (child: ChildProcess, type: string, timeoutMs: number, request?: unknown): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const stop = (): void => { clearTimeout(timer); child.off('message', on); child.off('exit', onExit) }
    const timer = setTimeout(() => { stop(); reject(new Error(`no "${type}" within ${timeoutMs} ms`)) }, timeoutMs)
    const onExit = (): void => { stop(); reject(new Error(`the child exited before "${type}"`)) }
    const on = (message: { type: string, message?: string }): void => {
      if (message.type === 'error') { stop(); reject(new Error(message.message)); return }
      if (message.type !== type) return
      stop()
      resolve(message as T)
    }
    child.on('message', on)
    child.once('exit', onExit)
    if (request !== undefined) child.send(request as object)
  })
}

// The few parts of bullmq used here (it is installed in BULLMQ_DIR, not in this project).
interface BullMQ {
  Queue: new (name: string, opts: unknown) => { waitUntilReady: () => Promise<unknown>, addBulk: (jobs: unknown[]) => Promise<unknown>, obliterate: (opts: unknown) => Promise<void>, close: () => Promise<void> }
  QueueEvents: new (name: string, opts: unknown) => { waitUntilReady: () => Promise<unknown>, on: (event: string, fn: (arg: { data?: unknown }) => void) => void, close: () => Promise<void> }
}

interface Latency { count: number, p50: number, p99: number, max: number, lagP99?: number }
interface Mem { rss: number, heapUsed: number, external: number, arrayBuffers: number }

async function bullmqRun (): Promise<Latency & { received: number }> {
  const require = createRequire(`${BULLMQ_DIR}/package.json`)
  const { Queue, QueueEvents } = require('bullmq') as BullMQ
  const connection = { host: '127.0.0.1', port: envInt('REDIS_PORT', 6379) }
  const name = `sse-bench-${process.pid}-${Date.now()}`
  const queue = new Queue(name, { connection })
  const events = new QueueEvents(name, { connection, lastEventId: '0-0' })
  const values: number[] = []
  let completed = 0
  let done!: () => void
  const allDone = new Promise<void>((resolve) => { done = resolve })
  events.on('progress', ({ data }) => { values.push(performance.timeOrigin + performance.now() - (data as { t: number }).t) })
  events.on('completed', () => { if (++completed === JOBS) done() })
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()])
  const worker = spawnTs('sse-bullmq-worker.ts', [name, String(JOBS), String(UPDATES), String(GAP_MS)], {})
  try {
    await reply(worker, 'ready', 30_000)
    await sleep(200) // the QueueEvents XREAD settles (as the yardstick's progress.mjs does)
    await queue.addBulk(Array.from({ length: JOBS }, (_, i) => ({ name: 'p', data: { i, offsetMs: STAGGER ? (i * GAP_MS) / JOBS : 0 }, opts: { removeOnComplete: true } })))
    await Promise.race([allDone, sleep(UPDATES * GAP_MS + 60_000).then(() => { throw new Error('BullMQ run timed out') })])
    await sleep(100) // stragglers
  } finally {
    worker.kill('SIGTERM')
    await Promise.race([new Promise((resolve) => worker.once('exit', resolve)), sleep(5000)])
    await events.close()
    await queue.obliterate({ force: true }).catch(() => {})
    await queue.close()
  }
  return { count: values.length, received: values.length, p50: pct(values, 50), p99: pct(values, 99), max: Math.max(...values) }
}

async function main (): Promise<void> {
  const nofile = Number(execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim())
  if (Number.isFinite(nofile) && nofile < STREAMS + 1000) throw new Error(`ulimit -n is ${nofile}; ${STREAMS} streams need more (ulimit -n ${STREAMS + 2000})`)
  console.log(`SSE bench: ${STREAMS} streams (${USERS} users × ${PER_USER}), ${JOBS} jobs × ${UPDATES} progress ${GAP_MS} ms apart, progressIntervalMs=${INTERVAL_MS}, ${STAGGER ? 'staggered' : 'lockstep'}, ${RUNS} runs; node ${process.version}`)

  const server = spawnTs('sse-server.ts', [], { LOG_LEVEL: 'warn', BENCH_USERS: String(USERS), JOBCAST_PROGRESS_INTERVAL_MS: String(INTERVAL_MS) }, ['--expose-gc'])
  const { address } = await reply<{ address: string }>(server, 'listening', 30_000)
  const load = spawnTs('sse-load.ts', [], {})
  await reply(load, 'ready', 30_000)

  // Warm-up: open and drop a few streams and run a job, so that lazily built things exist before measuring.
  await reply(load, 'opened', 60_000, { type: 'open', url: address, users: USERS, perUser: 1, parallel: 50 })
  await reply(server, 'ran', 60_000, { type: 'run', users: 1, updates: 2, gapMs: 1 })
  await reply(load, 'closed', 30_000, { type: 'close' })
  await sleep(500)
  const before = await reply<Mem>(server, 'mem', 30_000, { type: 'mem' })
  const opened = await reply<{ count: number, ms: number, errors: number }>(load, 'opened', 300_000, { type: 'open', url: address, users: USERS, perUser: PER_USER, parallel: 200 })
  const stats = await reply<{ clients: number, connections: number }>(server, 'stats', 10_000, { type: 'stats' })
  await sleep(500)
  const after = await reply<Mem>(server, 'mem', 30_000, { type: 'mem' })
  const per = (key: keyof Mem): number => (after[key] - before[key]) / STREAMS / 1024
  console.log(`opened ${opened.count} streams in ${fmt(opened.ms)} ms (${opened.errors} errors); server: ${stats.clients} hub clients, ${stats.connections} connections`)
  console.log(`memory per stream: RSS ${fmt(per('rss'), 2)} KiB, heap ${fmt(per('heapUsed'), 2)} KiB, external ${fmt(per('external'), 2)} KiB ` +
    `(RSS ${fmt(before.rss / 2 ** 20, 1)} → ${fmt(after.rss / 2 ** 20, 1)} MiB, heap ${fmt(before.heapUsed / 2 ** 20, 1)} → ${fmt(after.heapUsed / 2 ** 20, 1)} MiB)`)

  const expected = JOBS * UPDATES * PER_USER
  const sse: Latency[] = []
  const bull: Latency[] = []
  for (let run = 1; run <= RUNS; run++) {
    await reply(load, 'latencies', 10_000, { type: 'collect' }) // clears
    const ran = await reply<{ ms: number, lagP99: number }>(server, 'ran', UPDATES * GAP_MS + 120_000, { type: 'run', users: JOBS, updates: UPDATES, gapMs: GAP_MS, stagger: STAGGER })
    await sleep(300) // the last frames in flight reach the client
    const l = await reply<Latency>(load, 'latencies', 30_000, { type: 'collect' })
    sse.push(l)
    if (run === 1) console.log(`[${new Date().toISOString()}] runs start`)
    console.log(`run ${run} jobcast SSE : p50 ${fmt(l.p50, 2)} ms  p99 ${fmt(l.p99, 2)} ms  max ${fmt(l.max, 1)} ms  received ${l.count}/${expected} (jobs ran ${fmt(ran.ms)} ms; event-loop delay p99: server ${fmt(ran.lagP99, 1)} ms, client ${fmt(l.lagP99 ?? NaN, 1)} ms)`)
    if (WITH_BULLMQ) {
      const b = await bullmqRun()
      bull.push(b)
      console.log(`run ${run} BullMQ QE   : p50 ${fmt(b.p50, 2)} ms  p99 ${fmt(b.p99, 2)} ms  max ${fmt(b.max, 1)} ms  received ${b.count}/${JOBS * UPDATES}`)
    }
  }
  console.log(`\nmedian of ${RUNS} runs              p50 ms     p99 ms     max ms`)
  const row = (label: string, xs: Latency[]): void => {
    console.log(`${label.padEnd(34)}${fmt(median(xs.map((x) => x.p50)), 2).padStart(7)}${fmt(median(xs.map((x) => x.p99)), 2).padStart(11)}${fmt(median(xs.map((x) => x.max)), 1).padStart(11)}`)
  }
  row(`jobcast SSE (${STREAMS} streams)`, sse)
  if (WITH_BULLMQ) row('BullMQ QueueEvents (1 listener)', bull)

  console.log(`[${new Date().toISOString()}] closing`)
  await reply(load, 'closed', 60_000, { type: 'close' })
  server.kill('SIGTERM')
  load.kill('SIGTERM')
  await Promise.race([new Promise((resolve) => server.once('exit', resolve)), sleep(10_000)])
}

const deadline = setTimeout(() => { console.error('sse bench: over 20 minutes, giving up'); killAll(); process.exit(1) }, 20 * 60_000)
main().then(() => { clearTimeout(deadline); killAll(); process.exit(0) }, (err: unknown) => { console.error(err); killAll(); process.exit(1) })
