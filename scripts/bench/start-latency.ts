// Start latency: POST /api/jobs/noop -> 202, at a steady RATE requests/s on loopback, against the server
// running as its own process (scripts/bench/bench-server.ts: src/app.ts plus a `noop` job type, the same
// Fastify options as src/server.ts). The load client is this process: open loop, one request every
// 1000/RATE ms on 1 ms timer ticks with catch-up (a slow response does not delay the next request), over
// keep-alive connections (at most CONNECTIONS). Latency is request call -> response end, float ms.
// Each run: a fresh server and data folder, WARMUP s untimed, then DURATION s measured. RUNS runs; medians.
// CLIENT=autocannon instead runs `autocannon -R RATE` (a separate process; its rate limit sends each
// connection's share at the start of every second, in bursts, and its percentiles are whole ms).
//
//   node --import tsx scripts/bench/start-latency.ts
//   (env: RUNS=3 RATE=1000 DURATION=20 WARMUP=2 CONNECTIONS=32 CLIENT=paced|autocannon JSON_OUT=<file>
//    SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server;
//    SERVER_ROOT=<a checkout of an earlier commit> to measure that build's server with the same client)
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { envInt, fmt, killChild, lastJson, median, pct, runChild } from './lib.ts'

const RUNS = envInt('RUNS', 3)
const RATE = envInt('RATE', 1000)
const DURATION = envInt('DURATION', 20)
const WARMUP = envInt('WARMUP', 2)
const CONNECTIONS = envInt('CONNECTIONS', 32)
const CLIENT = process.env.CLIENT === 'autocannon' ? 'autocannon' : 'paced'
const TOKEN = 'bench-token-0001'
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SERVER_ROOT = process.env.SERVER_ROOT ?? ROOT

/** One run's figures (ms, and requests/s). */
export interface LatencyRun {
  n: number
  non202: number
  errors: number
  /** Requests/s issued (the target rate when the client keeps up). */
  rate: number
  /** Responses/s over the measured part, first measured request to last response (below `rate` when the server falls behind). */
  answeredRate: number
  p50: number
  p90: number
  p99: number
  max: number
  issueLagP99: number
  serverCpuPct: number
  /** 1-minute load average of the machine at the end of the run (others' work shares the 2 cores). */
  loadAvg: number
}

// utime + stime of a process, in seconds (Linux /proc); NaN elsewhere.
function cpuSeconds (pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return NaN
  }
}

async function startServer (dataDir: string): Promise<{ url: string, pid: number, stop: () => Promise<void> }> {
  const nodeArgs = (process.env.SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'scripts/bench/bench-server.ts'], {
    cwd: SERVER_ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      JOBCAST_DATA_DIR: dataDir,
      JOBCAST_TOKENS: `bench:${TOKEN}`,
      LOG_LEVEL: 'warn',
      JOBCAST_MAX_QUEUED_PER_USER: '1000000',
      // The per-user start limit would answer a load test with 429s: this measures the path, not the limit.
      JOBCAST_RATE_STARTS: '100000000'
    }
  })
  const exited = new Promise<void>((resolve) => { child.once('close', () => { resolve() }) })
  const stop = async (): Promise<void> => { killChild(child); await exited }
  const listening = await new Promise<{ listening: string, pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('the bench server did not listen within 30 s')) }, 30_000)
    child.once('close', (code) => { clearTimeout(timer); reject(new Error(`the bench server exited (${code}) before listening`)) })
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = lastJson<{ listening: string, pid: number }>(line, 'listening')
      if (msg !== undefined) { clearTimeout(timer); resolve(msg) } else process.stderr.write(`[server] ${line}\n`)
    })
  }).catch(async (err: unknown) => { await stop(); throw err })
  return { url: listening.listening, pid: listening.pid, stop }
}

async function pacedRun (url: string, serverPid: number): Promise<LatencyRun> {
  const { hostname, port } = new URL(url)
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const body = '{}'
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': String(body.length) }
  const total = RATE * (WARMUP + DURATION)
  const warmN = RATE * WARMUP
  const lat = new Float64Array(total - warmN)
  const lag: number[] = []
  let measured = 0
  let non202 = 0
  let errors = 0
  let pending = 0
  let issued = 0
  let cpu0 = NaN
  let tFirst = NaN
  let tLast = NaN
  let allAnswered!: () => void
  const answered = new Promise<void>((resolve) => { allAnswered = resolve })
  const done = (): void => { if (--pending === 0 && issued === total) allAnswered() }

  const send = (k: number): void => {
    const timed = k >= warmN
    const t = performance.now()
    if (k === warmN) { cpu0 = cpuSeconds(serverPid); tFirst = t }
    pending++
    const req = http.request({ host: hostname, port, method: 'POST', path: '/api/jobs/noop', agent, headers }, (res) => {
      res.resume()
      res.on('end', () => {
        if (res.statusCode !== 202) non202++
        else if (timed) { tLast = performance.now(); lat[measured++] = tLast - t }
        done()
      })
    })
    req.on('error', () => { errors++; done() })
    req.end(body)
  }

  const t0 = performance.now()
  let tEnd = t0
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * RATE) / 1000))
      while (issued < due) {
        const k = issued++
        if (k >= warmN) lag.push(performance.now() - (t0 + (k * 1000) / RATE))
        send(k)
      }
      if (issued < total) setTimeout(tick, 1)
      else { tEnd = performance.now(); resolve() }
    }
    tick()
  })
  if (pending > 0) await answered
  const cpu = cpuSeconds(serverPid) - cpu0
  agent.destroy()
  const xs = lat.subarray(0, measured)
  const seconds = (tEnd - t0) / 1000 - WARMUP
  return {
    n: measured,
    non202,
    errors,
    rate: (total - warmN) / seconds,
    answeredRate: measured / ((tLast - tFirst) / 1000),
    p50: pct(xs, 50),
    p90: pct(xs, 90),
    p99: pct(xs, 99),
    max: xs.reduce((a, b) => Math.max(a, b), 0),
    issueLagP99: pct(lag, 99),
    serverCpuPct: (cpu / seconds) * 100,
    loadAvg: loadavg()[0]!
  }
}

async function autocannonRun (url: string, serverPid: number): Promise<LatencyRun> {
  const bin = join(ROOT, 'node_modules', '.bin', 'autocannon')
  const common = ['-m', 'POST', '-H', `authorization=Bearer ${TOKEN}`, '-H', 'content-type=application/json', '-b', '{}', '-c', '10', '-R', String(RATE), '--json']
  await runChild('autocannon-warmup', bin, [...common, '-d', String(WARMUP), `${url}/api/jobs/noop`], { timeoutMs: (WARMUP + 30) * 1000 })
  const cpu0 = cpuSeconds(serverPid)
  const { stdout } = await runChild('autocannon', bin, [...common, '-d', String(DURATION), `${url}/api/jobs/noop`], { timeoutMs: (DURATION + 30) * 1000 })
  const cpu = cpuSeconds(serverPid) - cpu0
  const r = lastJson<{ latency: Record<string, number>, requests: { total: number, average: number }, non2xx: number, errors: number }>(stdout, 'latency')
  if (r === undefined) throw new Error('autocannon printed no JSON result')
  return {
    n: r.requests.total,
    non202: r.non2xx,
    errors: r.errors,
    rate: r.requests.average,
    answeredRate: r.requests.average,
    p50: r.latency.p50!,
    p90: r.latency.p90!,
    p99: r.latency.p99!,
    max: r.latency.max!,
    issueLagP99: NaN,
    serverCpuPct: (cpu / DURATION) * 100,
    loadAvg: loadavg()[0]!
  }
}

/** Runs the benchmark; returns every run and prints a summary table. */
export async function startLatency (): Promise<{ runs: LatencyRun[], median: Omit<LatencyRun, 'n' | 'non202' | 'errors'> }> {
  console.log(`# start latency: POST /api/jobs/noop -> 202, ${CLIENT} client at ${RATE}/s, ${DURATION} s (+${WARMUP} s warm-up), ${RUNS} runs, node ${process.version}`)
  const runs: LatencyRun[] = []
  for (let r = 0; r < RUNS; r++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'jobcast-bench-'))
    const server = await startServer(dataDir)
    try {
      const x = CLIENT === 'autocannon' ? await autocannonRun(server.url, server.pid) : await pacedRun(server.url, server.pid)
      runs.push(x)
      console.log(`run ${r + 1}: p50 ${fmt(x.p50, 2)} ms  p90 ${fmt(x.p90, 2)} ms  p99 ${fmt(x.p99, 2)} ms  max ${fmt(x.max, 1)} ms  ` +
        `(n=${x.n}, sent ${fmt(x.rate)}/s, answered ${fmt(x.answeredRate)}/s, non-202 ${x.non202}, errors ${x.errors}, issue-lag p99 ${fmt(x.issueLagP99, 2)} ms, server CPU ${fmt(x.serverCpuPct)}%, load avg ${fmt(x.loadAvg, 1)})`)
    } finally {
      await server.stop()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
  const m = (f: (x: LatencyRun) => number): number => median(runs.map(f))
  const summary = { rate: m((x) => x.rate), answeredRate: m((x) => x.answeredRate), loadAvg: m((x) => x.loadAvg), p50: m((x) => x.p50), p90: m((x) => x.p90), p99: m((x) => x.p99), max: m((x) => x.max), issueLagP99: m((x) => x.issueLagP99), serverCpuPct: m((x) => x.serverCpuPct) }
  console.log(`\nmedians of ${RUNS}: p50 ${fmt(summary.p50, 2)} ms  p90 ${fmt(summary.p90, 2)} ms  p99 ${fmt(summary.p99, 2)} ms  max ${fmt(summary.max, 1)} ms  ` +
    `sent ${fmt(summary.rate)}/s  answered ${fmt(summary.answeredRate)}/s  server CPU ${fmt(summary.serverCpuPct)}%  (goal: p99 < 5 ms: ${summary.p99 < 5 ? 'met' : 'MISSED'})`)
  if (process.env.JSON_OUT !== undefined) writeFileSync(process.env.JSON_OUT, JSON.stringify({ client: CLIENT, RATE, DURATION, WARMUP, RUNS, runs, median: summary }, null, 2))
  return { runs, median: summary }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await startLatency()
