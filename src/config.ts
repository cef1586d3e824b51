import { availableParallelism } from 'node:os'
import { envSchema } from 'env-schema'
import { Type, type Static } from 'typebox'

// Every variable, with its default; .env.example lists the same.
const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  JOBCAST_DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  JOBCAST_TOKENS: Type.String({ default: '' }),
  JOBCAST_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 10000, default: 16 }),
  JOBCAST_USER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 10000, default: 4 }),
  JOBCAST_MAX_QUEUED_PER_USER: Type.Integer({ minimum: 1, default: 10000 }),
  JOBCAST_RETENTION_DAYS: Type.Number({ exclusiveMinimum: 0, default: 7 }),
  JOBCAST_SHUTDOWN_GRACE_MS: Type.Integer({ minimum: 0, default: 10000 }),
  JOBCAST_PROGRESS_INTERVAL_MS: Type.Integer({ minimum: 0, default: 250 }),
  JOBCAST_HEARTBEAT_MS: Type.Integer({ minimum: 1000, default: 15000 }),
  JOBCAST_REPLAY_BUFFER: Type.Integer({ minimum: 0, default: 1000 }),
  JOBCAST_CSV_MAX_BYTES: Type.Integer({ minimum: 1, default: 2 * 1024 ** 3 }),
  JOBCAST_CSV_CHECKPOINT_MS: Type.Integer({ minimum: 0, default: 2000 }),
  JOBCAST_CSV_WORKERS: Type.Integer({ minimum: 1, maximum: 256, default: availableParallelism() }),
  LOG_LEVEL: Type.Unsafe<string>({ type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' })
})

/** Validated settings of one server. */
export interface Config {
  port: number
  host: string
  /** SQLite file and job files live here. */
  dataDir: string
  /** `user:token` pairs granted at start. */
  tokens: Array<{ user: string, token: string }>
  /** Jobs running at once, in all. */
  concurrency: number
  /** Jobs of one user running at once. */
  userConcurrency: number
  /** Queued jobs one user may have before starts get 429. */
  maxQueuedPerUser: number
  /** Days a finished job and its files are kept. */
  retentionDays: number
  /** Time running jobs get to finish on shutdown, in ms. */
  shutdownGraceMs: number
  /** Least time between two progress events of one job, in ms. */
  progressIntervalMs: number
  /** Time between SSE heartbeat comments, in ms. */
  heartbeatMs: number
  /** Events kept per user for SSE resume. */
  replayBuffer: number
  /** Largest CSV upload accepted by csv-profile, in bytes. */
  csvMaxBytes: number
  /** Least time between two checkpoints of a CSV profile, in ms (a checkpoint carries the partial statistics). */
  csvCheckpointMs: number
  /** Worker threads that profile CSV files (byte ranges in parallel), shared by all CSV jobs. */
  csvWorkers: number
  logLevel: string
}

/** Reads and validates the environment; a bad value throws an error that names the variable. */
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  const raw = envSchema<Static<typeof EnvSchema>>({ schema: EnvSchema, data: env, dotenv: false })
  return {
    port: raw.PORT,
    host: raw.HOST,
    dataDir: raw.JOBCAST_DATA_DIR,
    tokens: parseTokens(raw.JOBCAST_TOKENS),
    concurrency: raw.JOBCAST_CONCURRENCY,
    userConcurrency: raw.JOBCAST_USER_CONCURRENCY,
    maxQueuedPerUser: raw.JOBCAST_MAX_QUEUED_PER_USER,
    retentionDays: raw.JOBCAST_RETENTION_DAYS,
    shutdownGraceMs: raw.JOBCAST_SHUTDOWN_GRACE_MS,
    progressIntervalMs: raw.JOBCAST_PROGRESS_INTERVAL_MS,
    heartbeatMs: raw.JOBCAST_HEARTBEAT_MS,
    replayBuffer: raw.JOBCAST_REPLAY_BUFFER,
    csvMaxBytes: raw.JOBCAST_CSV_MAX_BYTES,
    csvCheckpointMs: raw.JOBCAST_CSV_CHECKPOINT_MS,
    csvWorkers: raw.JOBCAST_CSV_WORKERS,
    logLevel: raw.LOG_LEVEL
  }
}

const TOKEN_PAIR = /^([A-Za-z0-9_.-]{1,64}):(\S{8,})$/

function parseTokens (value: string): Config['tokens'] {
  if (value.trim() === '') return []
  return value.split(',').map((pair) => {
    const match = TOKEN_PAIR.exec(pair.trim())
    if (match === null) throw new Error(`env/JOBCAST_TOKENS must be comma-separated user:token pairs (user of letters, digits, "._-"; token of 8 or more characters), e.g. "alice:token-a-secret"; "${pair.split(':')[0]}:…" is not`)
    return { user: match[1]!, token: match[2]! }
  })
}
