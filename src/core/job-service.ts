import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import { AbortReason, ClientError, PermanentError, RetryableError, toJobError } from '../errors.ts'
import { newId } from '../lib/ids.ts'
import { TERMINAL_STATES, type JobFile, type JobQuery, type JobRecord, type JobStore } from '../adapters/sqlite/types.ts'
import type { JobDefinition } from './define-job.ts'
import type { EventBus, JobEventKind } from './event-bus.ts'
import { createJobContext } from './job-context.ts'
import { removeJobFiles } from './job-files.ts'
import { LiveJob, type ProgressRates } from './live-job.ts'
import type { JobRegistry } from './registry.ts'
import { retryDelay } from './retry.ts'
import { Scheduler, type ScheduleEntry } from './scheduler.ts'

/** Settings of the job service. */
export interface JobServiceOptions {
  store: JobStore
  registry: JobRegistry
  bus: EventBus
  log: Logger
  /** Folder of the jobs' files (`<filesDir>/<jobId>/…`). */
  filesDir: string
  /** Jobs running at once, in all. */
  concurrency: number
  /** Jobs of one user running at once. */
  userConcurrency: number
  /** Queued jobs one user may have; past it a start is refused with 429. */
  maxQueuedPerUser: number
  /** Finished jobs are deleted, with their files, this long after they finish. */
  retentionMs: number
  progress: ProgressRates
  /** How long a handler may go on after its signal fired before its slot is taken back, in ms. */
  abortGraceMs: number
}

/** What a start carries besides its type and input. */
export interface SubmitOptions {
  /** Use this id (its files were stored under it before the start). */
  id?: string
  idempotencyKey?: string
  files?: JobFile[]
  batchId?: string
}

/** Retry-After (seconds) suggested to a user whose queue is full. */
const QUEUE_FULL_RETRY_AFTER_S = 5

/**
 * The heart of jobcast: accepts jobs into the store, runs them through the scheduler with retries,
 * timeouts and cancel, and tells the event bus about every change.
 */
export class JobService {
  readonly #o: JobServiceOptions
  readonly #scheduler: Scheduler
  readonly #live = new Map<string, LiveJob>()
  // Records of the jobs waiting in the scheduler, so that starting one needs no read of the store.
  readonly #waiting = new Map<string, JobRecord>()
  // Starts of each owner accepted but not yet committed and queued: admission counts them as waiting too.
  readonly #admitting = new Map<string, number>()
  #sweepTimer: NodeJS.Timeout | undefined
  #accepting = false

  constructor (options: JobServiceOptions) {
    this.#o = options
    this.#scheduler = new Scheduler({
      concurrency: options.concurrency,
      userConcurrency: options.userConcurrency,
      typeConcurrency: (type) => options.registry.get(type)?.concurrency
    }, async (entry) => { await this.#execute(entry) })
  }

  /** Jobs running and waiting now. */
  get stats (): { running: number, queued: number } {
    return { running: this.#scheduler.running, queued: this.#scheduler.queued }
  }

  /** Recovers what a crash left running, queues what was waiting, and starts the retention sweep. */
  start (): void {
    const { store, log } = this.#o
    const now = Date.now()
    for (const job of store.running()) {
      if (job.attempt >= job.maxAttempts) {
        this.#write(job, { state: 'failed', finishedAt: now, error: { code: 'INTERRUPTED', message: `the server stopped while attempt ${job.attempt} of ${job.maxAttempts} ran, and no attempt is left` } })
        log.warn({ jobId: job.id }, 'job interrupted with no attempt left: failed')
      } else {
        this.#write(job, { state: 'queued', attempt: job.attempt + 1, runAt: now, error: { code: 'INTERRUPTED', message: `the server stopped while attempt ${job.attempt} ran; attempt ${job.attempt + 1} resumes from the last checkpoint` } })
        log.warn({ jobId: job.id, attempt: job.attempt + 1 }, 'job interrupted: queued again')
      }
    }
    for (const job of store.queued()) this.#enqueue(job)
    this.#accepting = true
    const sweepEvery = Math.min(this.#o.retentionMs, 3_600_000)
    this.#sweepTimer = setInterval(() => { this.sweep().catch((err) => { log.error({ err }, 'retention sweep failed') }) }, sweepEvery)
    this.#sweepTimer.unref()
  }

  /** Validates and accepts a job: stored durably and queued before this resolves. */
  async submit (owner: string, type: string, rawInput: unknown, options: SubmitOptions = {}): Promise<{ job: JobRecord, created: boolean }> {
    const { registry } = this.#o
    if (!this.#accepting) throw new ClientError(503, 'SHUTTING_DOWN', 'the server is shutting down; start the job again in a moment')
    const input = registry.validate(type, rawInput)
    const definition = registry.get(type)!
    // Only a start with an Idempotency-Key is compared with an earlier one, so only it needs the hash.
    const requestHash = options.idempotencyKey === undefined ? null : createHash('sha256').update(type).update(JSON.stringify(input)).digest('base64url')
    const replay = this.#replayOf(owner, options.idempotencyKey, requestHash)
    if (replay !== undefined) return replay
    if (this.#scheduler.queuedFor(owner) + (this.#admitting.get(owner) ?? 0) >= this.#o.maxQueuedPerUser) {
      throw new ClientError(429, 'QUEUE_FULL', `you have ${this.#o.maxQueuedPerUser} jobs waiting, the most allowed; start more when some have run`, { 'retry-after': String(QUEUE_FULL_RETRY_AFTER_S) })
    }
    const files = options.files ?? []
    checkFileCount(type, definition, files.length)
    this.#admitting.set(owner, (this.#admitting.get(owner) ?? 0) + 1)
    try {
      return await this.#admit(owner, type, input, definition, files, requestHash, options)
    } finally {
      const left = this.#admitting.get(owner)! - 1
      if (left === 0) this.#admitting.delete(owner)
      else this.#admitting.set(owner, left)
    }
  }

  // The part of a start between admission and queueing: preview, insert, commit.
  async #admit (owner: string, type: string, input: unknown, definition: JobDefinition, files: JobFile[], requestHash: string | null, options: SubmitOptions): Promise<{ job: JobRecord, created: boolean }> {
    const { store } = this.#o
    const preview = await this.#preview(definition, input, this.#absolute(options.id, files))
    const now = Date.now()
    const record: JobRecord = {
      id: options.id ?? newId(),
      type,
      owner,
      state: 'queued',
      input,
      progress: null,
      result: null,
      error: null,
      preview,
      files,
      checkpoint: null,
      attempt: 1,
      maxAttempts: Math.max(1, definition.retry?.attempts ?? 1),
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      runAt: now,
      batchId: options.batchId ?? null,
      idempotencyKey: options.idempotencyKey ?? null,
      requestHash,
      version: 1
    }
    // Checked again after the awaited preview, in the same tick as the insert: a twin start may have come first.
    const twin = this.#replayOf(owner, options.idempotencyKey, requestHash)
    if (twin !== undefined) return twin
    store.insert(record)
    // The 202 promises the job survives a crash: wait for the commit this start shares with the others of its turn.
    await store.durable()
    this.#o.bus.emit('job', { kind: 'queued', job: record })
    this.#enqueue(record)
    return { job: record, created: true }
  }

  // The type's preview, computed before the job is queued; an error with a code refuses the start with a 422.
  async #preview (definition: JobDefinition, input: unknown, files: JobFile[]): Promise<unknown> {
    if (definition.preview === undefined) return null
    try {
      return await definition.preview({ input, files })
    } catch (err) {
      if (err instanceof ClientError) throw err
      const code = (err as { code?: unknown } | null)?.code
      if (typeof code === 'string') throw new ClientError(422, code, (err as Error).message)
      throw err
    }
  }

  // The earlier job started with this key, if any (422 when that start was a different request).
  #replayOf (owner: string, key: string | undefined, requestHash: string | null): { job: JobRecord, created: false } | undefined {
    if (key === undefined) return undefined
    const existing = this.#o.store.findByIdempotencyKey(owner, key)
    return existing === undefined ? undefined : { job: this.#checkReplay(existing, requestHash), created: false }
  }

  #checkReplay (existing: JobRecord, requestHash: string | null): JobRecord {
    if (existing.requestHash !== requestHash) {
      throw new ClientError(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request; use a new key for a new job')
    }
    return this.#current(existing.id) ?? existing
  }

  // The newest in-memory record of a job: running (live progress) or waiting; undefined for the others.
  #current (id: string): JobRecord | undefined {
    return this.#live.get(id)?.record ?? this.#waiting.get(id)
  }

  /** The record after `patch`, whose write is queued in the store. */
  #write (job: JobRecord, patch: Partial<Omit<JobRecord, 'id' | 'version'>>): JobRecord {
    this.#o.store.update(job.id, patch)
    return { ...job, ...patch, version: job.version + 1 }
  }

  #enqueue (job: JobRecord): void {
    this.#waiting.set(job.id, job)
    this.#scheduler.enqueue(job)
  }

  #absolute (id: string | undefined, files: JobFile[]): JobFile[] {
    if (id === undefined) return files
    return files.map((f) => ({ ...f, path: `${this.#o.filesDir}/${id}/${f.path}` }))
  }

  /** The job as it is now (running jobs: with their latest progress), if `owner` owns it. */
  get (owner: string, id: string): JobRecord | undefined {
    const job = this.#current(id) ?? this.#o.store.get(id)
    return job?.owner === owner ? job : undefined
  }

  /** The owner's jobs, newest first. */
  list (owner: string, query: JobQuery): JobRecord[] {
    return this.#o.store.list(owner, query).map((job) => this.#current(job.id) ?? job)
  }

  /** The owner's unfinished jobs and those finished since `finishedSince`, newest first, with live progress. */
  recent (owner: string, finishedSince: number, limit = 500): JobRecord[] {
    return this.#o.store.recent(owner, finishedSince, limit).map((job) => this.#current(job.id) ?? job)
  }

  /** Cancels a queued or running job; resolves with the job once it has stopped. Finished jobs are returned as they are. */
  async cancel (owner: string, id: string): Promise<JobRecord | undefined> {
    const job = this.get(owner, id)
    if (job === undefined) return undefined
    if (TERMINAL_STATES.has(job.state)) return job
    if (this.#scheduler.remove(id)) {
      this.#waiting.delete(id)
      const canceled = this.#write(job, { state: 'canceled', finishedAt: Date.now(), error: { code: 'CANCELED', message: 'canceled by its owner before it started' } })
      this.#o.bus.emit('job', { kind: 'canceled', job: canceled })
      return canceled
    }
    const live = this.#live.get(id)
    if (live !== undefined) {
      live.abort(new AbortReason('canceled', 'canceled by its owner while it ran'))
      await live.settled()
    }
    return this.get(owner, id)
  }

  /** Deletes finished jobs past the retention, with their files. */
  async sweep (now = Date.now()): Promise<number> {
    const { store, filesDir } = this.#o
    let deleted = 0
    for (;;) {
      const expired = store.finishedBefore(now - this.#o.retentionMs, 500)
      if (expired.length === 0) return deleted
      for (const job of expired) await removeJobFiles(filesDir, job.id)
      store.delete(expired.map((j) => j.id))
      deleted += expired.length
    }
  }

  /**
   * Stops taking jobs, lets running ones finish for up to `graceMs`, then aborts the rest; those go back to
   * `queued` (same attempt, checkpoint kept) and run on the next start.
   */
  async stop (graceMs: number): Promise<void> {
    this.#accepting = false
    this.#scheduler.stop()
    clearInterval(this.#sweepTimer)
    let timer: NodeJS.Timeout | undefined
    const graceOver = new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs) })
    await Promise.race([this.#scheduler.idle(), graceOver])
    clearTimeout(timer)
    const stopping = [...this.#live.values()]
    for (const live of stopping) live.abort(new AbortReason('shutdown', 'the server is shutting down'))
    await Promise.all(stopping.map(async (live) => { await live.settled() }))
    this.#o.store.flush()
  }

  async #execute (entry: ScheduleEntry): Promise<void> {
    const { store, registry, log } = this.#o
    const queued = this.#waiting.get(entry.id)
    this.#waiting.delete(entry.id)
    if (queued?.state !== 'queued') return
    const definition = registry.get(queued.type)
    if (definition === undefined) {
      const failed = this.#write(queued, { state: 'failed', finishedAt: Date.now(), error: { code: 'UNKNOWN_JOB_TYPE', message: `job type "${queued.type}" is not registered on this server` } })
      this.#o.bus.emit('job', { kind: 'failed', job: failed })
      return
    }
    const started = this.#write(queued, { state: 'running', startedAt: Date.now() })
    const live = new LiveJob(started, store, this.#o.bus, this.#o.progress)
    this.#live.set(started.id, live)
    live.emit('started', started)

    const jobLog = log.child({ jobId: started.id, owner: started.owner, type: started.type, attempt: started.attempt })
    const timeout = definition.timeoutMs === undefined
      ? undefined
      : setTimeout(() => { live.abort(new AbortReason('timeout', `the job ran longer than its limit of ${definition.timeoutMs} ms`)) }, definition.timeoutMs)
    let outcome: { ok: true, value: unknown } | { ok: false, error: unknown }
    try {
      const ctx = createJobContext(live, store, this.#o.filesDir, jobLog)
      const onAbandon = (): void => { jobLog.warn('handler did not stop within the abort grace period; its slot is taken back') }
      outcome = { ok: true, value: await live.race(definition.run(ctx), this.#o.abortGraceMs, onAbandon) }
    } catch (error) {
      outcome = { ok: false, error }
    } finally {
      clearTimeout(timeout)
    }
    live.close()
    this.#live.delete(started.id)
    try {
      this.#finish(definition, live, outcome, jobLog)
    } finally {
      live.markSettled()
    }
  }

  #finish (definition: JobDefinition, live: LiveJob, outcome: { ok: true, value: unknown } | { ok: false, error: unknown }, log: Logger): void {
    const { store } = this.#o
    const job = live.record
    const now = Date.now()
    const progress = job.progress
    const reason = live.controller.signal.reason as unknown
    const emit = (kind: JobEventKind, record: JobRecord): void => { this.#o.bus.emit('job', { kind, job: record }) }

    if (reason instanceof AbortReason && reason.kind === 'shutdown') {
      this.#write(job, { state: 'queued', progress, runAt: now })
      log.info('stopped by shutdown: queued for the next start')
      return
    }
    if (reason instanceof AbortReason && reason.kind === 'canceled') {
      emit('canceled', this.#write(job, { state: 'canceled', progress, finishedAt: now, error: reason.toJSON() }))
      log.info('canceled')
      return
    }
    if (outcome.ok && !(reason instanceof AbortReason)) {
      const final = progress === null ? null : { ...progress, current: progress.total ?? progress.current, percent: 100, etaMs: 0 }
      emit('completed', this.#write(job, { state: 'completed', progress: final, result: outcome.value ?? null, error: null, finishedAt: now }))
      log.info('completed')
      return
    }
    const error = reason instanceof AbortReason || outcome.ok ? reason : outcome.error
    const jobError = toJobError(error)
    const retryable = !(error instanceof PermanentError) && !(error instanceof AbortReason)
    if (retryable && job.attempt < job.maxAttempts) {
      const waitMs = retryDelay(definition.retry ?? { attempts: 1 }, job.attempt, retryAfterOf(error))
      const retrying = this.#write(job, { state: 'queued', progress, error: jobError, attempt: job.attempt + 1, runAt: now + waitMs })
      emit('retrying', retrying)
      log.warn({ err: error, waitMs }, 'attempt failed; retrying')
      this.#enqueue(retrying)
      return
    }
    emit('failed', this.#write(job, { state: 'failed', progress, error: jobError, finishedAt: now }))
    log.warn({ err: error }, 'failed')
  }
}

// A start must carry as many files as its type takes: none for a type without `files`.
function checkFileCount (type: string, definition: JobDefinition, count: number): void {
  const spec = definition.files
  if (spec === undefined && count > 0) throw new ClientError(400, 'FILES_NOT_ACCEPTED', `job type "${type}" takes no files; send its input as JSON`)
  if (spec !== undefined && count < (spec.min ?? 1)) {
    throw new ClientError(400, 'FILES_REQUIRED', `job type "${type}" needs at least ${spec.min ?? 1} file(s), sent as multipart/form-data with the input as a JSON field "input"`)
  }
}

// The least wait a failure asks for: RetryableError.retryAfterMs, or any error's own retryAfterMs.
function retryAfterOf (error: unknown): number {
  if (error instanceof RetryableError) return error.retryAfterMs ?? 0
  const value = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs
  return typeof value === 'number' && Number.isFinite(value) ? value : 0
}
