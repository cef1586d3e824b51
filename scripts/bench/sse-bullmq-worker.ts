// The BullMQ side of the SSE benchmark: a Worker whose jobs call job.updateProgress({ t }) `updates` times,
// `gapMs` apart, t = wall clock (sub-ms) at the call. Forked by scripts/bench/sse-connections.ts; argv: queue
// name, concurrency, updates, gapMs; Redis at REDIS_HOST:REDIS_PORT (127.0.0.1:6379). Sends { type: 'ready' }.
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'

/** bullmq comes from the yardstick's own install (`npm install` in /work/shared/bench/bullmq). */
export const BULLMQ_DIR = process.env.BULLMQ_DIR ?? '/work/shared/bench/bullmq'
const require = createRequire(`${BULLMQ_DIR}/package.json`)
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Worker } = require('bullmq') as { Worker: new (name: string, fn: (job: { data: { offsetMs: number }, updateProgress: (p: unknown) => Promise<void> }) => Promise<void>, opts: unknown) => { waitUntilReady: () => Promise<unknown>, close: () => Promise<void> } }

const nowAbs = (): number => performance.timeOrigin + performance.now()
const [queueName = 'sse-bench', concurrency = '100', updates = '20', gapMs = '100'] = process.argv.slice(2)
const connection = { host: process.env.REDIS_HOST ?? '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) }

const worker = new Worker(queueName, async (job) => {
  await sleep(job.data.offsetMs)
  for (let i = 1; i <= Number(updates); i++) {
    await job.updateProgress({ i, t: nowAbs() })
    await sleep(Number(gapMs))
  }
}, { connection, concurrency: Number(concurrency) })
await worker.waitUntilReady()
const stop = (): void => { worker.close().finally(() => { process.exit(0) }) }
process.on('disconnect', stop)
process.on('SIGTERM', stop)
process.send?.({ type: 'ready' })
