import { createHash } from 'node:crypto'
import { ClientError, JobcastError } from '../errors.ts'
import { newId } from '../lib/ids.ts'
import type { FileStore } from '../ports/file-store.ts'
import type { AllowList } from '../net/address-policy.ts'
import { resolveNotify } from '../notify/notify-targets.ts'
import type { JobStore } from '../ports/job-store.ts'
import { receiveUpload, type PartsSource } from '../uploads/receive-upload.ts'
import type { JobDefinition } from './define-job.ts'
import type { Lifecycle } from './lifecycle.ts'
import type { JobFile, JobRecord } from './model.ts'
import type { JobRegistry } from './registry.ts'

/** What a start carries besides its type and input. */
export interface SubmitOptions {
  idempotencyKey?: string | undefined
  batchId?: string | undefined
  /**
   * Where to tell that the job ended: `{ webhook?, email? }` (checked here; a 4xx names what is wrong). Absent: the
   * owner's defaults (`NotificationStore.notifyDefaults`); null or `{}`: nowhere.
   */
  notify?: unknown
}

/** A start's outcome: the job, and whether this start created it (false: an idempotent replay). */
export interface Submitted {
  job: JobRecord
  created: boolean
}

/** Settings of the intake. */
export interface JobIntakeOptions {
  store: JobStore
  files: FileStore
  registry: JobRegistry
  lifecycle: Lifecycle
  /** Queued jobs one user may have; past it a start is refused with 429. */
  maxQueuedPerUser: number
  /** Hosts and ranges a `notify.webhook` may point at although not public. */
  allow: AllowList
  /** Whether starts are taken now (false while the server shuts down). */
  accepting: () => boolean
  /** Told of every job created, so that a runner looks for work at once. */
  onCreated: () => void
}

/** Retry-After (seconds) suggested to a user whose queue is full. */
const QUEUE_FULL_RETRY_AFTER_S = 5

/**
 * Accepts jobs: validates the input, stores uploads, computes the preview, and inserts the job under the
 * idempotency and admission rules in one store call. A start resolves once the job is durable and announced.
 */
export class JobIntake {
  readonly #o: JobIntakeOptions

  constructor (options: JobIntakeOptions) {
    this.#o = options
  }

  /** Starts a job from JSON input. */
  async submit (owner: string, type: string, rawInput: unknown, options: SubmitOptions = {}): Promise<Submitted> {
    this.#checkAccepting()
    return await this.#accept(owner, type, rawInput, newId(), [], options)
  }

  /** Starts a job from a multipart body: its files are streamed to the file store first, under the new job's id. */
  async submitUpload (owner: string, type: string, parts: PartsSource, options: SubmitOptions = {}): Promise<Submitted> {
    this.#checkAccepting()
    const spec = this.#o.registry.require(type).files
    if (spec === undefined) throw new ClientError(400, 'FILES_NOT_ACCEPTED', `job type "${type}" takes no files; send its input as JSON`)
    const id = newId()
    const upload = await receiveUpload(parts, type, spec, this.#o.files, id)
    let submitted: Submitted | undefined
    try {
      submitted = await this.#accept(owner, type, upload.input, id, upload.files, { ...options, notify: options.notify ?? upload.notify })
      return submitted
    } finally {
      // Refused, or a replay of an earlier start: the files of this request belong to no job.
      if (submitted?.created !== true) await this.#o.files.remove(id)
    }
  }

  #checkAccepting (): void {
    if (!this.#o.accepting()) throw new ClientError(503, 'SHUTTING_DOWN', 'the server is shutting down; start the job again in a moment')
  }

  async #accept (owner: string, type: string, rawInput: unknown, id: string, files: JobFile[], options: SubmitOptions): Promise<Submitted> {
    const { registry, store, lifecycle } = this.#o
    const input = registry.validate(type, rawInput)
    const definition = registry.require(type)
    const notify = await resolveNotify(store, owner, options.notify, this.#o.allow)
    checkFileCount(type, definition, files.length)
    // Only a start with an Idempotency-Key is compared with an earlier one, so only it needs the hash.
    const requestHash = options.idempotencyKey === undefined ? null : createHash('sha256').update(type).update(JSON.stringify(input)).digest('base64url')
    const preview = await this.#preview(definition, input, files.map((f) => ({ ...f, path: this.#o.files.localPath(id, f.path) })))
    const now = Date.now()
    const record: JobRecord = {
      id,
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
      lease: null,
      version: 1
    }
    // Written before the job: its terminal write then finds them in the same commit. A refused start leaves a row no job has.
    if (notify !== null) await store.setNotify(id, owner, notify)
    const outcome = await admitOrRefuse(lifecycle, record, this.#o.maxQueuedPerUser)
    if (outcome.status === 'queue-full') {
      throw new ClientError(429, 'QUEUE_FULL', `you have ${this.#o.maxQueuedPerUser} jobs waiting, the most allowed; start more when some have run`, { 'retry-after': String(QUEUE_FULL_RETRY_AFTER_S) })
    }
    if (outcome.status === 'existing') {
      if (outcome.job.requestHash !== requestHash) {
        throw new ClientError(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different request; use a new key for a new job')
      }
      return { job: outcome.job, created: false }
    }
    this.#o.onCreated()
    return { job: outcome.job, created: true }
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
}

// A start must carry as many files as its type takes: none for a type without `files`.
function checkFileCount (type: string, definition: JobDefinition, count: number): void {
  const spec = definition.files
  if (spec === undefined && count > 0) throw new ClientError(400, 'FILES_NOT_ACCEPTED', `job type "${type}" takes no files; send its input as JSON`)
  if (spec !== undefined && count < (spec.min ?? 1)) {
    throw new ClientError(400, 'FILES_REQUIRED', `job type "${type}" needs at least ${spec.min ?? 1} file(s), sent as multipart/form-data with the input as a JSON field "input"`)
  }
}

// A failed commit fails the start with a status that says whose fault it is not: 507 when the disk is full, else 503.
async function admitOrRefuse (lifecycle: Lifecycle, record: JobRecord, maxQueued: number): ReturnType<JobStore['insertOrGet']> {
  try {
    return await lifecycle.admit(record, { maxQueued })
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === '53100') {
      throw new JobcastError('INSUFFICIENT_STORAGE', 'the job store is out of space; the job was not started, try again later', 507, { cause: err })
    }
    throw new JobcastError('STORE_UNAVAILABLE', 'the job store cannot take the job now; it was not started, try again in a moment', 503, { cause: err })
  }
}
