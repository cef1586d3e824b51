import Fastify, { type FastifyInstance } from 'fastify'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../src/adapters/sqlite/database.ts'
import { COLUMN_FIELDS, FIELDS, insertValues, toRecord } from '../src/adapters/sqlite/job-row.ts'
import app from '../src/app.ts'
import { loadConfig, type Config } from '../src/config.ts'
import type { JobDefinition } from '../src/core/define-job.ts'
import type { JobEventKind, JobRecord, JobState } from '../src/core/model.ts'
import type { JobView } from '../src/schemas/job.ts'

/** The subset of tap's Test the helpers use. */
export interface Teardown {
  teardown: (fn: () => unknown) => void
}

/** Tokens of the test users. */
export const TOKENS = { alice: 'token-alice-0001', bob: 'token-bob-000001', carol: 'token-carol-0001' } as const
/** Authorization headers of the test users. */
export const AUTH = {
  alice: { authorization: `Bearer ${TOKENS.alice}` },
  bob: { authorization: `Bearer ${TOKENS.bob}` },
  carol: { authorization: `Bearer ${TOKENS.carol}` }
} as const

/** A fresh data folder, removed on teardown. */
export function tempDataDir (t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'jobcast-test-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

/** A test configuration: a fresh data folder and the test users, with `overrides`. */
export function testConfig (t: Teardown, overrides: Partial<Config> = {}): Config {
  return {
    ...loadConfig({ LOG_LEVEL: 'silent' }),
    dataDir: tempDataDir(t),
    tokens: Object.entries(TOKENS).map(([user, token]) => ({ user, token })),
    progressIntervalMs: 50,
    shutdownGraceMs: 2000,
    builtIns: ['sleep', 'csv-profile', 'documents', 'http-check'],
    lockWaitMs: 2000,
    // Tests send many wrong tokens from one address on purpose; the rate-limit tests set their own limits.
    rateAuthFailures: 10_000,
    maxStreamsPerUser: 10_000,
    ...overrides
  }
}

/** Builds the app (not listening) and closes it on teardown. */
export async function build (t: Teardown, overrides: Partial<Config> = {}, jobTypes: JobDefinition[] = []): Promise<FastifyInstance> {
  const fastify = Fastify({ logger: false })
  await fastify.register(app, { config: testConfig(t, overrides), jobTypes })
  t.teardown(async () => { await fastify.close() })
  await fastify.ready()
  return fastify
}

/** A job event as tests record it: its kind and the job after it. */
export interface RecordedEvent {
  kind: JobEventKind
  job: JobRecord
}

/** Calls `listener` with every job event of this node from now on; returns the unsubscribe function. */
export function onJobEvent (fastify: FastifyInstance, listener: (event: RecordedEvent) => void): () => void {
  return fastify.jobcast.service.events.subscribe(({ kind, job }) => {
    if (job !== undefined) listener({ kind, job })
  })
}

/** Resolves with the job once `predicate` holds for it (checked now, then on every event of the job). */
export async function waitForJob (fastify: FastifyInstance, owner: string, id: string, predicate: (job: JobRecord) => boolean): Promise<JobRecord> {
  let unsubscribe = (): void => {}
  const changed = new Promise<JobRecord>((resolve) => {
    unsubscribe = onJobEvent(fastify, ({ job }) => {
      if (job.id === id && predicate(job)) resolve(job)
    })
  })
  try {
    const now = await fastify.jobcast.get(owner, id)
    if (now !== undefined && predicate(now)) return now
    return await changed
  } finally {
    unsubscribe()
  }
}

/** Resolves once the job is in one of `states`. */
export async function waitForState (fastify: FastifyInstance, owner: string, id: string, ...states: JobState[]): Promise<JobRecord> {
  return await waitForJob(fastify, owner, id, (job) => states.includes(job.state))
}

/** A promise with its resolve function exposed, to hold a test job until the test lets it go. */
export interface Deferred<T = void> {
  promise: Promise<T>
  resolve: (value: T) => void
}

/** A new {@link Deferred}. */
export function deferred<T = void> (): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => { resolve = r })
  return { promise, resolve }
}

/** Resolves when `signal` aborts, rejecting with its reason: what a well-behaved handler does while it waits. */
export async function untilAborted (signal: AbortSignal): Promise<never> {
  return await new Promise<never>((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason)
    else signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
  })
}

/** Starts a job over HTTP as `user`; throws unless the answer is a 202. Returns the job view. */
export async function startJob (fastify: FastifyInstance, user: keyof typeof AUTH, type: string, input: unknown, headers: Record<string, string> = {}): Promise<JobView> {
  const res = await fastify.inject({ method: 'POST', url: `/api/jobs/${type}`, headers: { ...AUTH[user], ...headers }, payload: input as object })
  if (res.statusCode !== 202) throw new Error(`start of ${type} answered ${res.statusCode}: ${res.body}`)
  return res.json<JobView>()
}

/** Records every job event (kind and job) from now until teardown. */
export function recordEvents (t: Teardown, fastify: FastifyInstance): RecordedEvent[] {
  const events: RecordedEvent[] = []
  t.teardown(onJobEvent(fastify, (event) => { events.push(event) }))
  return events
}

/** Writes job rows straight into a data folder's database (a state a crash could leave), before a server opens it. */
export function seedJobs (dataDir: string, jobs: JobRecord[]): void {
  const db = openDatabase(dataDir)
  try {
    const columns = ['id', ...FIELDS.flatMap((f) => COLUMN_FIELDS[f]), 'version']
    const insert = db.prepare(`INSERT INTO jobs (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`)
    for (const job of jobs) insert.run(insertValues(job))
  } finally {
    db.close()
  }
}

/** Reads one job row from a data folder's database (the server that wrote it is closed). */
export function readJob (dataDir: string, id: string): JobRecord | undefined {
  const db = openDatabase(dataDir)
  try {
    const row = db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Record<string, unknown> | undefined
    return row === undefined ? undefined : toRecord(row)
  } finally {
    db.close()
  }
}

/** The most of `starts` (sorted ms) inside any window of `windowMs` that opens at a start: a rate seen from outside. */
export function mostInWindow (starts: number[], windowMs: number): number {
  let most = 0
  for (let i = 0; i < starts.length; i++) {
    let n = 0
    for (let j = i; j < starts.length && starts[j]! < starts[i]! + windowMs; j++) n++
    most = Math.max(most, n)
  }
  return most
}
