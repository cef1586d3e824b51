// jobcast end to end, in process (the library face): builds the app as test/helper.ts does (src/app.ts,
// logger off, a fresh data folder, the SQLite store) with a `noop` job type, then calls
// `app.jobcast.submit(owner, 'noop', {})` N times, BATCH at once (as BullMQ's yardstick adds with addBulk in batches
// of 100; BATCH=1 is one producer awaiting each start), and measures from the first submit to the last job's
// `completed` event of `app.jobcast.service.events`. Config `concurrency` and `userConcurrency`
// are both set to each of CONC. Prints one line per run and, last, one JSON line with every figure.
//
//   node --import tsx scripts/bench/throughput-jobcast.ts   (env: N=20000 CONC=1,10,100 RUNS=1 WARMUP=500 BATCH=100)
import Fastify, { type FastifyInstance } from 'fastify'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import app from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import type { JobEvent } from '../../src/ports/job-events.ts'
import { envInt, envInts, fmt } from './lib.ts'
import { noopJob } from './noop-job.ts'

const N = envInt('N', 20_000)
const CONC = envInts('CONC', [1, 10, 100])
const RUNS = envInt('RUNS', 1)
const WARMUP = envInt('WARMUP', 500)
const BATCH = envInt('BATCH', 100)
const OWNER = 'bench'

/** One run's figures. */
export interface ThroughputRun {
  concurrency: number
  /** Jobs per second from the first submit to the last completion. */
  endToEnd: number
  /** Submits per second (the submit loop alone; jobs already run meanwhile). */
  submitPhase: number
  /** Process CPU over the run, in % of one core. */
  cpuPct: number
}

async function build (concurrency: number, dataDir: string): Promise<FastifyInstance> {
  const fastify = Fastify({ logger: false })
  const config = {
    ...loadConfig({ LOG_LEVEL: 'silent' }),
    dataDir,
    tokens: [{ user: OWNER, token: 'bench-token-0001' }],
    concurrency,
    userConcurrency: concurrency,
    maxQueuedPerUser: 10_000_000
  }
  await fastify.register(app, { config, jobTypes: [noopJob] })
  await fastify.ready()
  return fastify
}

// Submits `count` noop jobs and resolves when all of them have completed; returns the timings.
async function drive (fastify: FastifyInstance, count: number): Promise<{ t0: number, tSubmitted: number, tEnd: number }> {
  let completed = 0
  let failed = 0
  let resolveDone!: (t: number) => void
  const done = new Promise<number>((resolve) => { resolveDone = resolve })
  const onJob = ({ kind }: JobEvent): void => {
    if (kind === 'failed' || kind === 'canceled') failed++
    if (kind === 'completed' || kind === 'failed' || kind === 'canceled') {
      if (++completed === count) resolveDone(performance.now())
    }
  }
  const unsubscribe = fastify.jobcast.service.events.subscribe(onJob)
  const t0 = performance.now()
  for (let i = 0; i < count; i += BATCH) {
    const batch = Math.min(BATCH, count - i)
    await Promise.all(Array.from({ length: batch }, async () => await fastify.jobcast.submit(OWNER, 'noop', {})))
  }
  const tSubmitted = performance.now()
  const tEnd = await done
  unsubscribe()
  if (failed > 0) throw new Error(`${failed} noop jobs did not complete`)
  return { t0, tSubmitted, tEnd }
}

async function oneRun (concurrency: number): Promise<ThroughputRun> {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobcast-bench-'))
  const fastify = await build(concurrency, dataDir)
  try {
    // Untimed warm-up, as the BullMQ yardsticks warm their connection: lets V8 compile the submit and run paths.
    await drive(fastify, WARMUP)
    const cpu0 = process.cpuUsage()
    const { t0, tSubmitted, tEnd } = await drive(fastify, N)
    const cpu = process.cpuUsage(cpu0)
    return {
      concurrency,
      endToEnd: N / ((tEnd - t0) / 1000),
      submitPhase: N / ((tSubmitted - t0) / 1000),
      cpuPct: ((cpu.user + cpu.system) / 1000 / (tEnd - t0)) * 100
    }
  } finally {
    await fastify.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

const runs: ThroughputRun[] = []
for (let r = 0; r < RUNS; r++) {
  for (const c of CONC) {
    const x = await oneRun(c)
    runs.push(x)
    console.log(`jobcast c=${String(c).padEnd(3)} run ${r + 1}: e2e ${fmt(x.endToEnd)} /s (submit phase ${fmt(x.submitPhase)} /s, CPU ${fmt(x.cpuPct)}%)`)
  }
}
console.log(JSON.stringify({ jobcast: { N, WARMUP, node: process.version, runs } }))
