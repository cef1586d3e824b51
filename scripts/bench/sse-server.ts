// The jobcast server for the SSE benchmark, run as a forked child of scripts/bench/sse-connections.ts (IPC).
// Registers `sse-bench`, a job that reports `updates` progress events `gapMs` apart, each progress message
// carrying the wall clock (sub-ms) at the progress() call. Answers the driver's messages:
//   { type: 'mem' }                         → { type: 'mem', rss, heapUsed, external, arrayBuffers } after two GCs
//   { type: 'run', users, updates, gapMs, stagger } → starts one job per user (staggered: job i starts i/users of a gap late); { type: 'ran', ms, lagP99 } once all completed
//   { type: 'stats' }                       → { type: 'stats', clients, connections }
// Environment as src/server.ts (PORT, HOST, JOBCAST_*), plus BENCH_USERS (user count, tokens `u000:bench-token-u000`…).
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Type } from 'typebox'
import app from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { defineJob } from '../../src/core/define-job.ts'
import type { JobEvent } from '../../src/ports/job-events.ts'

/** Wall clock in ms with sub-ms resolution, comparable across processes of one host. */
const nowAbs = (): number => performance.timeOrigin + performance.now()

const benchJob = defineJob({
  type: 'sse-bench',
  input: Type.Object({ updates: Type.Integer({ minimum: 1 }), gapMs: Type.Number({ minimum: 0 }), offsetMs: Type.Number({ minimum: 0 }) }),
  async run (ctx) {
    const { updates, gapMs, offsetMs } = ctx.input
    // Jobs started together would report in lockstep; real ones do not: each starts at its own offset.
    await sleep(offsetMs, undefined, { signal: ctx.signal })
    for (let i = 1; i <= updates; i++) {
      ctx.progress({ current: i, total: updates, message: `t=${nowAbs().toFixed(3)}` })
      await sleep(gapMs, undefined, { signal: ctx.signal })
    }
    return { updates }
  }
})

const users = Number(process.env.BENCH_USERS ?? 100)
const dataDir = mkdtempSync(join(tmpdir(), 'jobcast-sse-bench-'))
const tokens = Array.from({ length: users }, (_, i) => `u${String(i).padStart(3, '0')}`).map((user) => ({ user, token: `bench-token-${user}` }))
const config = { ...loadConfig(), dataDir, tokens, concurrency: Math.max(16, users), userConcurrency: 4 }
const fastify = Fastify({ logger: { level: config.logLevel }, requestTimeout: 0, keepAliveTimeout: 72_000, forceCloseConnections: 'idle' })
// fp() lifts the app's decorators (bus, jobs, streams) to this instance, as test/helper.ts does.
await fastify.register(fp(app), { config, jobTypes: [benchJob] })

const gc = (globalThis as { gc?: () => void }).gc
const send = (message: unknown): void => { process.send?.(message) }

process.on('message', (message: { type: string, users?: number, updates?: number, gapMs?: number, stagger?: boolean }) => {
  if (message.type === 'mem') {
    gc?.()
    gc?.()
    const m = process.memoryUsage()
    send({ type: 'mem', rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers })
  } else if (message.type === 'stats') {
    fastify.server.getConnections((_err, connections) => { send({ type: 'stats', clients: fastify.jobcast.streams.clientCount, connections }) })
  } else if (message.type === 'run') {
    const started = performance.now()
    const lag = monitorEventLoopDelay({ resolution: 5 })
    lag.enable()
    const pending = new Set<string>()
    let unsubscribe = (): void => {}
    const onJob = ({ kind, jobId }: JobEvent): void => {
      if (kind !== 'completed' && kind !== 'failed') return
      if (!pending.delete(jobId) || pending.size > 0) return
      unsubscribe()
      lag.disable()
      send({ type: 'ran', ms: performance.now() - started, lagP99: lag.percentile(99) / 1e6, cpu: process.cpuUsage() })
    }
    unsubscribe = fastify.jobcast.service.events.subscribe(onJob)
    const jobs = message.users ?? 1
    const gapMs = message.gapMs ?? 0
    Promise.all(tokens.slice(0, jobs).map(async ({ user }, i) => {
      const offsetMs = message.stagger === true ? (i * gapMs) / jobs : 0
      const job = await fastify.jobcast.submit(user, 'sse-bench', { updates: message.updates, gapMs, offsetMs })
      pending.add(job.id)
    })).catch((err: unknown) => { send({ type: 'error', message: (err as Error).message }) })
  }
})

let closing = false
const close = (): void => {
  if (closing) return
  closing = true
  const done = (): void => { rmSync(dataDir, { recursive: true, force: true }); process.exit(0) }
  fastify.close().then(done, done)
}
process.on('SIGTERM', close)
process.on('SIGINT', close)
process.on('disconnect', close) // the driver went away

const address = await fastify.listen({ port: 0, host: '127.0.0.1', backlog: 4096 })
send({ type: 'listening', address, pid: process.pid })
