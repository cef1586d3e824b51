import { randomBytes } from 'node:crypto'
import { availableParallelism, hostname } from 'node:os'
import { join } from 'node:path'
import { envSchema } from 'env-schema'
import { Type, type Static } from 'typebox'
import { parseAllowList, type AllowList } from './net/address-policy.ts'

// Every variable, with its default; .env.example lists the same.
const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  JOBCAST_DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  JOBCAST_DATABASE_URL: Type.String({ default: '' }),
  JOBCAST_FILES_DIR: Type.String({ default: '' }),
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
  JOBCAST_BUILT_INS: Type.String({ default: 'sleep,csv-profile,documents' }),
  JOBCAST_NODE_ID: Type.String({ default: '' }),
  JOBCAST_LEASE_MS: Type.Integer({ minimum: 1000, default: 30000 }),
  JOBCAST_POLL_MS: Type.Integer({ minimum: 10, default: 1000 }),
  JOBCAST_LOCK_WAIT_MS: Type.Integer({ minimum: 0, default: 20000 }),
  JOBCAST_ALLOW_PRIVATE_URLS: Type.String({ default: '' }),
  JOBCAST_HTTP_CHECK_MAX_URLS: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
  JOBCAST_HTTP_CHECK_MAX_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
  JOBCAST_HTTP_CHECK_TIME_LIMIT_MS: Type.Integer({ minimum: 1000, default: 300_000 }),
  JOBCAST_MAX_INPUT_BYTES: Type.Integer({ minimum: 1024, default: 1024 * 1024 }),
  JOBCAST_MAX_RESULT_BYTES: Type.Integer({ minimum: 1024, default: 1024 * 1024 }),
  JOBCAST_MAX_JSON_DEPTH: Type.Integer({ minimum: 2, maximum: 1000, default: 64 }),
  JOBCAST_RATE_AUTH_FAILURES: Type.Integer({ minimum: 1, default: 10 }),
  JOBCAST_RATE_STARTS: Type.Integer({ minimum: 1, default: 1200 }),
  JOBCAST_RATE_SESSIONS: Type.Integer({ minimum: 1, default: 20 }),
  JOBCAST_MAX_STREAMS_PER_USER: Type.Integer({ minimum: 1, default: 20 }),
  JOBCAST_UPLOAD_IDLE_MS: Type.Integer({ minimum: 100, default: 30_000 }),
  JOBCAST_HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 20_000 }),
  JOBCAST_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 3_600_000 }),
  JOBCAST_SESSION_PURGE_MS: Type.Integer({ minimum: 100, default: 3_600_000 }),
  JOBCAST_COOKIE_SECURE: Type.Boolean({ default: false }),
  JOBCAST_TRUST_PROXY: Type.Boolean({ default: false }),
  JOBCAST_METRICS_TOKEN: Type.String({ default: '' }),
  JOBCAST_BATCH_MAX_FILES: Type.Integer({ minimum: 1, default: 1000 }),
  JOBCAST_BATCH_MAX_FILE_BYTES: Type.Integer({ minimum: 1, default: 100 * 1024 ** 2 }),
  JOBCAST_BATCH_MAX_BYTES: Type.Integer({ minimum: 1, default: 2 * 1024 ** 3 }),
  JOBCAST_SMTP_URL: Type.String({ default: '' }),
  JOBCAST_SMTP_FROM: Type.String({ minLength: 3, default: 'jobcast <jobcast@localhost>' }),
  JOBCAST_CSV_WORKERS: Type.Integer({ minimum: 1, maximum: 256, default: availableParallelism() }),
  LOG_LEVEL: Type.Unsafe<string>({ type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' })
})

/** Validated settings of one server. */
export interface Config {
  port: number
  host: string
  /** SQLite file and job files live here. */
  dataDir: string
  /** PostgreSQL to run on (`postgres://…`), shared by every node of a cluster; empty: embedded SQLite under `dataDir`. */
  databaseUrl: string
  /** Job files (`<filesDir>/<jobId>/…`): a directory every node reads and writes; empty: `<dataDir>/files` (see {@link filesDirOf}). */
  filesDir: string
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
  /** Built-in job types to register: any of sleep, csv-profile, documents, http-check. */
  builtIns: string[]
  /** This process's id in leases; unique per process (default: host, pid and a random part). */
  nodeId: string
  /** How long a node's claim on a running job holds without a heartbeat, in ms. */
  leaseMs: number
  /** Least time between two looks for work that nothing announced, in ms. */
  pollMs: number
  /** How long a server waits for another one to release the data folder, in ms. */
  lockWaitMs: number
  /** Hosts and ranges outbound requests (http-check, webhooks) may reach although not public. */
  allowPrivateUrls: AllowList
  /** Most URLs in one http-check job. */
  httpCheckMaxUrls: number
  /** Most URLs one http-check job fetches at once. */
  httpCheckMaxConcurrency: number
  /** Time one http-check job has for all its URLs, in ms; URLs not done by then fail with TIME_LIMIT. */
  httpCheckTimeLimitMs: number
  /** Largest JSON body (and multipart `input` field) accepted, in bytes; past it 413 INPUT_TOO_LARGE. */
  maxInputBytes: number
  /** Largest result kept on the job, in bytes (as JSON); a larger one is stored as the artifact `result.json`. */
  maxResultBytes: number
  /** Deepest nesting of arrays and objects a JSON body may have; past it 400 INPUT_TOO_DEEP. */
  maxJsonDepth: number
  /** Requests with a wrong token or session one client address may make per minute before 429. */
  rateAuthFailures: number
  /** Starts one user may make per minute before 429. */
  rateStarts: number
  /** Sign-ins (POST /api/session) one client address may make per minute before 429. */
  rateSessions: number
  /** SSE streams one user may have open at once on this node; past it 429 TOO_MANY_STREAMS. */
  maxStreamsPerUser: number
  /** A request body (an upload) that sends nothing for this long ends with 408, in ms. */
  uploadIdleMs: number
  /** Time a client has to send a request's headers, in ms; past it 408 and the connection closes (slowloris). */
  headersTimeoutMs: number
  /** Time a client has to send a whole request, body included, in ms (a body trickled just under the idle gap ends too). */
  requestTimeoutMs: number
  /** Time between two sweeps of expired sessions, in ms. */
  sessionPurgeMs: number
  /** Mark the session cookie Secure even when the request is plain HTTP (TLS ends at a proxy that trustProxy does not cover). */
  cookieSecure: boolean
  /** Trust X-Forwarded-* from a proxy in front (request.protocol, request.ip). */
  trustProxy: boolean
  /** When set, GET /metrics needs `Authorization: Bearer <this>`. */
  metricsToken: string
  /** Most files in one batch (`POST /api/batches/:type`). */
  batchMaxFiles: number
  /** Largest file in a batch, in bytes. */
  batchMaxFileBytes: number
  /** Largest batch, all its files together, in bytes. */
  batchMaxBytes: number
  /** SMTP server for email notifications (`smtp://user:pass@host:587`); empty: email is off. */
  smtpUrl: string
  /** Sender of email notifications. */
  smtpFrom: string
  /** Worker threads that profile CSV files (byte ranges in parallel), shared by all CSV jobs. */
  csvWorkers: number
  logLevel: string
}

/** The built-in job types a server can register. */
export const BUILT_INS = ['sleep', 'csv-profile', 'documents', 'http-check'] as const
/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** A dotenv file read under the environment (a variable set in both: the environment wins); absent is fine. Default: none. */
  envFile?: string
}

/** Reads and validates the environment; a bad value throws an error that names the variable. */
export function loadConfig (env: Record<string, string | undefined> = process.env, { envFile }: LoadConfigOptions = {}): Config {
  // Only the CLI passes envFile ('.env'): a library or a test must not pick up whatever .env the current folder has.
  const raw = envSchema<Static<typeof EnvSchema>>({ schema: EnvSchema, data: env, dotenv: envFile === undefined ? false : { path: envFile } })
  return {
    port: raw.PORT,
    host: raw.HOST,
    dataDir: raw.JOBCAST_DATA_DIR,
    databaseUrl: parseDatabaseUrl(raw.JOBCAST_DATABASE_URL),
    filesDir: raw.JOBCAST_FILES_DIR,
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
    builtIns: parseBuiltIns(raw.JOBCAST_BUILT_INS),
    nodeId: raw.JOBCAST_NODE_ID === '' ? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}` : raw.JOBCAST_NODE_ID,
    leaseMs: raw.JOBCAST_LEASE_MS,
    pollMs: raw.JOBCAST_POLL_MS,
    lockWaitMs: raw.JOBCAST_LOCK_WAIT_MS,
    allowPrivateUrls: parseEnvAllowList(raw.JOBCAST_ALLOW_PRIVATE_URLS),
    httpCheckMaxUrls: raw.JOBCAST_HTTP_CHECK_MAX_URLS,
    httpCheckMaxConcurrency: raw.JOBCAST_HTTP_CHECK_MAX_CONCURRENCY,
    httpCheckTimeLimitMs: raw.JOBCAST_HTTP_CHECK_TIME_LIMIT_MS,
    maxInputBytes: raw.JOBCAST_MAX_INPUT_BYTES,
    maxResultBytes: raw.JOBCAST_MAX_RESULT_BYTES,
    maxJsonDepth: raw.JOBCAST_MAX_JSON_DEPTH,
    rateAuthFailures: raw.JOBCAST_RATE_AUTH_FAILURES,
    rateStarts: raw.JOBCAST_RATE_STARTS,
    rateSessions: raw.JOBCAST_RATE_SESSIONS,
    maxStreamsPerUser: raw.JOBCAST_MAX_STREAMS_PER_USER,
    uploadIdleMs: raw.JOBCAST_UPLOAD_IDLE_MS,
    headersTimeoutMs: raw.JOBCAST_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: raw.JOBCAST_REQUEST_TIMEOUT_MS,
    sessionPurgeMs: raw.JOBCAST_SESSION_PURGE_MS,
    cookieSecure: raw.JOBCAST_COOKIE_SECURE,
    trustProxy: raw.JOBCAST_TRUST_PROXY,
    metricsToken: raw.JOBCAST_METRICS_TOKEN,
    batchMaxFiles: raw.JOBCAST_BATCH_MAX_FILES,
    batchMaxFileBytes: raw.JOBCAST_BATCH_MAX_FILE_BYTES,
    batchMaxBytes: raw.JOBCAST_BATCH_MAX_BYTES,
    smtpUrl: raw.JOBCAST_SMTP_URL,
    smtpFrom: raw.JOBCAST_SMTP_FROM,
    logLevel: raw.LOG_LEVEL
  }
}

/** The defaults of every setting, overridden by `overrides`: what an embedding application starts from. */
export function resolveConfig (overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), ...overrides }
}

/** Where job files live: `filesDir`, or `<dataDir>/files` when it is empty. */
export function filesDirOf (config: Pick<Config, 'dataDir' | 'filesDir'>): string {
  return config.filesDir === '' ? join(config.dataDir, 'files') : config.filesDir
}

/** `url` with its password, if any, replaced by `***`: what a message or a log may show of a database URL. */
export function redactUrl (url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(an unreadable URL)'
  }
}

function parseDatabaseUrl (value: string): string {
  if (value === '') return value
  const expected = 'env/JOBCAST_DATABASE_URL must be a PostgreSQL URL (postgres://user@host:5432/db), or empty for the embedded SQLite'
  if (!/^postgres(ql)?:\/\/./.test(value)) throw new Error(expected)
  // Never echoed: it may hold a password.
  if (!URL.canParse(value)) throw new Error(`${expected}; this one cannot be read as a URL (a port out of range, a stray character?)`)
  return value
}

function parseBuiltIns (value: string): string[] {
  const names = value.split(',').map((n) => n.trim()).filter((n) => n !== '')
  for (const name of names) {
    if (!(BUILT_INS as readonly string[]).includes(name)) throw new Error(`env/JOBCAST_BUILT_INS lists "${name}"; the built-in job types are ${BUILT_INS.join(', ')}`)
  }
  return names
}

function parseEnvAllowList (value: string): AllowList {
  try {
    return parseAllowList(value)
  } catch (err) {
    throw new Error(`env/JOBCAST_ALLOW_PRIVATE_URLS must be comma-separated hosts, IPs or CIDRs (e.g. "127.0.0.1,10.0.0.0/8,hooks.internal"): ${(err as Error).message}`)
  }
}

const TOKEN_PAIR = /^([A-Za-z0-9_.-]{1,64}):(\S{16,})$/

function parseTokens (value: string): Config['tokens'] {
  if (value.trim() === '') return []
  return value.split(',').map((pair) => {
    const match = TOKEN_PAIR.exec(pair.trim())
    if (match === null) throw new Error(`env/JOBCAST_TOKENS must be comma-separated user:token pairs (user of letters, digits, "._-"; token of 16 or more characters), e.g. "alice:alice-secret-token-1"; "${pair.split(':')[0]}:…" is not`)
    return { user: match[1]!, token: match[2]! }
  })
}
