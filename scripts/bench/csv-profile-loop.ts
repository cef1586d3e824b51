// Event-loop delay of a jobcast server while it profiles a large CSV: the server (createServer, as
// src/server.ts builds it) runs in this process; curl (its own process) uploads the file; from
// the job's start to its end a monitorEventLoopDelay histogram (1 ms resolution) runs and /healthz
// is fetched every 100 ms. Prints the delay and /healthz latency percentiles and the load average.
//
// usage: node --import tsx scripts/bench/csv-profile-loop.ts [file=/tmp/jobcast-csv-bench/data-1000mb.csv] [runs=1]
// env:   JOBCAST_CSV_WORKERS (default os.availableParallelism()), JOBCAST_CSV_CHECKPOINT_MS (default 2000)

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { loadConfig } from '../../src/config.ts'
import { createServer } from '../../src/create-server.ts'
import { median, pct } from './lib.ts'

const file = process.argv[2] ?? '/tmp/jobcast-csv-bench/data-1000mb.csv'
const runs = Number(process.argv[3] ?? 1)
const TOKEN = 'bench-token-0001'
const auth = { authorization: `Bearer ${TOKEN}` }
const bytes = statSync(file).size

interface JobView { id: string, state: string, error?: unknown }

async function once (): Promise<{ seconds: number, delay: number[], health: number[], maxDelay: number, load: number[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobcast-loop-'))
  const config = loadConfig({ ...process.env, JOBCAST_DATA_DIR: dataDir, JOBCAST_TOKENS: `bench:${TOKEN}`, JOBCAST_CSV_MAX_BYTES: String(8 * 1024 ** 3), LOG_LEVEL: 'warn' })
  const fastify = await createServer(config)
  try {
    const base = await fastify.listen({ port: 0, host: '127.0.0.1' })
    // curl uploads in its own process, so the upload does not share this event loop's CPU.
    const up = await promisify(execFile)('curl', ['-sS', '-H', `Authorization: Bearer ${TOKEN}`, '-F', `file=@${file};type=text/csv`, `${base}/api/jobs/csv-profile`], { encoding: 'utf8', maxBuffer: 1 << 24 })
    const { id } = JSON.parse(up.stdout) as JobView
    const get = async (): Promise<JobView> => await (await fetch(`${base}/api/jobs/${id}`, { headers: auth })).json() as JobView
    for (let job = await get(); job.state === 'queued'; job = await get()) await new Promise((resolve) => setTimeout(resolve, 20))
    const h = monitorEventLoopDelay({ resolution: 1 })
    h.enable()
    const t0 = performance.now()
    // When the longest stalls happen (a 1 ms timer firing over 50 ms late), seconds from the start.
    const stalls: string[] = []
    let tick = performance.now()
    const watch = setInterval(() => {
      const now = performance.now()
      if (now - tick > 51) stalls.push(`${((tick - t0) / 1000).toFixed(1)} s: ${(now - tick - 1).toFixed(0)} ms`)
      tick = now
    }, 1)
    const load = [loadavg()[0]!]
    const health: number[] = []
    for (;;) {
      const t = performance.now()
      await (await fetch(`${base}/healthz`)).arrayBuffer()
      health.push(performance.now() - t)
      const job = await get()
      if (job.state !== 'running') {
        if (job.state !== 'completed') throw new Error(`job ${job.state}: ${JSON.stringify(job.error)}`)
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    h.disable()
    clearInterval(watch)
    if (stalls.length > 0) console.error(`stalls over 50 ms: ${stalls.join(', ')}`)
    load.push(loadavg()[0]!)
    const delay = [50, 90, 99].map((p) => h.percentile(p) / 1e6)
    return { seconds: (performance.now() - t0) / 1000, delay, health, maxDelay: h.max / 1e6, load }
  } finally {
    await fastify.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

console.log(`${new Date().toISOString()}, ${file} (${(bytes / 1e6).toFixed(0)} MB), JOBCAST_CSV_WORKERS=${loadConfig({ LOG_LEVEL: 'silent' }).csvWorkers}`)
console.log('| run | profile | loop delay p50 / p90 / p99 / max | /healthz p50 / p99 / max | load average (start, end) |')
console.log('| --- | --- | --- | --- | --- |')
const p99s: number[] = []
for (let i = 0; i < runs; i++) {
  const r = await once()
  p99s.push(r.delay[2]!)
  console.log(`| ${i + 1} | ${r.seconds.toFixed(1)} s, ${(bytes / 1e6 / r.seconds).toFixed(0)} MB/s | ${r.delay.map((d) => d.toFixed(1)).join(' / ')} / ${r.maxDelay.toFixed(0)} ms | ` +
    `${median(r.health).toFixed(1)} / ${pct(r.health, 99).toFixed(1)} / ${Math.max(...r.health).toFixed(1)} ms (${r.health.length} requests) | ${r.load.map((l) => l.toFixed(1)).join(', ')} |`)
}
if (runs > 1) console.log(`median p99: ${median(p99s).toFixed(1)} ms`)
