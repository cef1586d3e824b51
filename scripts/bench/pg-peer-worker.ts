// One worker process of an alternative, for scripts/bench/pg-cluster.ts: pg-boss or BullMQ running no-op jobs
// at CONC at once, until SIGTERM. Prints "ready" once it takes work.
//
//   node --import tsx scripts/bench/pg-peer-worker.ts pgboss|bullmq   (env: DATABASE_URL, QUEUE, CONC, PGBOSS_BATCH=10, REDIS_PORT, BULLMQ_DIR)
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const kind = process.argv[2]
const QUEUE = process.env.QUEUE ?? 'noop'
const CONC = Number(process.env.CONC ?? 16)

if (kind === 'pgboss') {
  const { default: PgBoss } = await import('pg-boss')
  const boss = new PgBoss({ connectionString: process.env.DATABASE_URL, max: Math.max(4, Math.ceil(CONC / 4)), supervise: false, schedule: false })
  boss.on('error', (err: unknown) => { console.error(err) })
  await boss.start()
  // pg-boss 10 runs one fetch loop per work(), and waits its polling interval (floor 0.5 s) after every fetch, jobs
  // found or not: CONC loops taking up to PGBOSS_BATCH jobs per fetch (one job at a time would cap a loop at 2/s).
  const batchSize = Number(process.env.PGBOSS_BATCH ?? 10)
  for (let i = 0; i < CONC; i++) await boss.work(QUEUE, { pollingIntervalSeconds: 0.5, batchSize }, async () => null)
  console.log('ready')
  process.once('SIGTERM', () => { void boss.stop({ graceful: false, wait: false }).finally(() => process.exit(0)) })
} else if (kind === 'bullmq') {
  const dir = process.env.BULLMQ_DIR ?? '/work/shared/bench/bullmq'
  // BullMQ is installed beside its yardsticks (../shared/bench/bullmq), not in jobcast: typed here as far as used.
  type Worker = { waitUntilReady: () => Promise<unknown>, close: (force: boolean) => Promise<void> }
  const { Worker } = await import(pathToFileURL(join(dir, 'node_modules/bullmq/dist/esm/index.js')).href) as { Worker: new (queue: string, fn: () => Promise<null>, options: object) => Worker }
  // In native ESM, BullMQ takes a constructed ioredis client (installed beside it).
  const IORedis = createRequire(join(dir, 'package.json'))('ioredis') as new (o: object) => object
  const connection = new IORedis({ host: '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379), maxRetriesPerRequest: null })
  const worker = new Worker(QUEUE, async () => null, { connection, concurrency: CONC, removeOnComplete: { count: 0 } })
  await worker.waitUntilReady()
  console.log('ready')
  process.once('SIGTERM', () => { void worker.close(true).finally(() => process.exit(0)) })
} else {
  console.error('usage: pg-peer-worker.ts pgboss|bullmq')
  process.exit(2)
}
