import { createHash } from 'node:crypto'
import { ClientError } from '../errors.ts'
import { newId } from '../lib/ids.ts'
import type { AllowList } from '../net/address-policy.ts'
import { resolveNotify } from '../notify/notify-targets.ts'
import type { FileStore } from '../ports/file-store.ts'
import type { JobStore } from '../ports/job-store.ts'
import { receiveBatch, type BatchFile, type BatchLimits } from '../uploads/receive-batch.ts'
import { acceptsFile, formatBytes, type PartsSource } from '../uploads/receive-upload.ts'
import type { BatchRecord } from './batch-model.ts'
import type { JobDefinition } from './define-job.ts'
import type { Lifecycle } from './lifecycle.ts'
import type { JobError, JobRecord } from './model.ts'
import type { JobRegistry } from './registry.ts'

/** A batch start's outcome: the batch, its children in file order, and whether this start created it. */
export interface SubmittedBatch {
  batch: BatchRecord
  children: JobRecord[]
  created: boolean
}

/** Settings of the batch intake. */
export interface BatchIntakeOptions {
  store: JobStore
  files: FileStore
  registry: JobRegistry
  lifecycle: Lifecycle
  limits: BatchLimits
  maxQueuedPerUser: number
  /** Hosts and ranges a `notify.webhook` may point at although not public. */
  allow: AllowList
  accepting: () => boolean
  onCreated: () => void
}

/** Files whose acceptance (a type's preview reads their head) is checked at once. */
const CHECK_CONCURRENCY = 8

/**
 * Accepts batches: streams every file to the file store, decides for each whether the type takes it (extension,
 * then the type's preview, which reads the content), and creates every child — queued, or failed with the reason —
 * with the batch in one commit, before the answer. Nothing after that depends on the client.
 */
export class BatchIntake {
  readonly #o: BatchIntakeOptions

  constructor (options: BatchIntakeOptions) {
    this.#o = options
  }

  /** Starts a batch of `type` from a multipart body; resolves once the batch and every child are durable. */
  async submit (owner: string, type: string, parts: PartsSource, options: { idempotencyKey?: string | undefined, notify?: unknown } = {}): Promise<SubmittedBatch> {
    const { registry, files, store, limits } = this.#o
    if (!this.#o.accepting()) throw new ClientError(503, 'SHUTTING_DOWN', 'the server is shutting down; start the batch again in a moment')
    const definition = registry.require(type)
    if (definition.files === undefined) throw new ClientError(400, 'FILES_NOT_ACCEPTED', `job type "${type}" takes no files, so it takes no batches`)
    const received = await receiveBatch(parts, limits, files)
    let created = false
    try {
      if (received.files.length === 0) throw new ClientError(400, 'FILES_REQUIRED', 'a batch needs at least one "file" part, sent as multipart/form-data')
      const input = registry.validate(type, received.input)
      const asked = options.notify ?? received.notify
      const notify = await resolveNotify(store, owner, asked, this.#o.allow)
      const queuedNow = await store.countQueued(owner)
      if (queuedNow + received.files.length > this.#o.maxQueuedPerUser) {
        throw new ClientError(429, 'QUEUE_FULL', `this batch would take you past ${this.#o.maxQueuedPerUser} jobs waiting, the most allowed; start it when some have run`, { 'retry-after': '5' })
      }
      const now = Date.now()
      const key = options.idempotencyKey ?? null
      const batch: BatchRecord = {
        id: newId(),
        type,
        owner,
        input,
        total: received.files.length,
        createdAt: now,
        finishedAt: null,
        idempotencyKey: key,
        // What the request asked, not the defaults it fell back to: a replay after the defaults changed is the same request.
        requestHash: key === null ? null : requestHash(type, input, asked === undefined ? null : notify, received.files),
        notify
      }
      const verdicts = await this.#verdicts(definition, input, received.files)
      const children = received.files.map((file, index) => child(batch, definition, file, index, verdicts[index]!))
      const outcome = await store.insertBatch(batch, children)
      if (outcome.status === 'existing') {
        if (outcome.batch.requestHash !== batch.requestHash) {
          throw new ClientError(422, 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different batch; use a new key for a new batch')
        }
        const existing = (await store.list(owner, { batchId: outcome.batch.id, limit: outcome.batch.total })).reverse()
        return { batch: outcome.batch, children: existing, created: false }
      }
      created = true
      await this.#announce(outcome.batch, children)
      return { batch: outcome.batch, children, created: true }
    } finally {
      // Refused, or a replay of an earlier batch: the files of this request belong to no job.
      if (!created) await Promise.all(received.files.map(async (f) => { await files.remove(f.jobId) }))
    }
  }

  // Each child's event (queued, or failed at intake), then one batch event: not one per child.
  async #announce (batch: BatchRecord, children: JobRecord[]): Promise<void> {
    const { lifecycle } = this.#o
    for (const job of children) await lifecycle.publish(job.state === 'queued' ? 'queued' : 'failed', job, { batch: false })
    await lifecycle.publishBatch(batch.id)
    this.#o.onCreated()
  }

  // Whether the type takes each file: its extension (or MIME type) first, then its preview, which may read it.
  async #verdicts (definition: JobDefinition, input: unknown, received: BatchFile[]): Promise<Verdict[]> {
    const spec = definition.files!
    const verdicts: Verdict[] = new Array(received.length)
    let next = 0
    const check = async (file: BatchFile): Promise<Verdict> => {
      if (!acceptsFile(spec, file.name, file.mimeType)) {
        return { ok: false, error: { code: 'UNSUPPORTED_TYPE', message: `"${file.name}" is not taken by job type "${definition.type}"; it takes ${spec.accept!.join(', ')}` } }
      }
      if (file.size > spec.maxBytes) {
        return { ok: false, error: { code: 'FILE_TOO_LARGE', message: `"${file.name}" is larger than ${formatBytes(spec.maxBytes)}, the limit of job type "${definition.type}"` } }
      }
      if (definition.preview === undefined) return { ok: true, preview: null }
      try {
        const jobFile = { field: file.field, name: file.name, path: this.#o.files.localPath(file.jobId, file.path), size: file.size, mimeType: file.mimeType }
        return { ok: true, preview: await definition.preview({ input, files: [jobFile] }) }
      } catch (err) {
        const code = (err as { code?: unknown } | null)?.code
        return { ok: false, error: { code: typeof code === 'string' ? code : 'INVALID_FILE', message: (err as Error).message } }
      }
    }
    const worker = async (): Promise<void> => {
      while (next < received.length) {
        const index = next++
        verdicts[index] = await check(received[index]!)
      }
    }
    await Promise.all(Array.from({ length: Math.min(CHECK_CONCURRENCY, received.length) }, worker))
    return verdicts
  }
}

type Verdict = { ok: true, preview: unknown } | { ok: false, error: JobError }

// The child job of one file: queued, or failed at intake with the reason (its file's name in the message).
function child (batch: BatchRecord, definition: JobDefinition, file: BatchFile, index: number, verdict: Verdict): JobRecord {
  const now = batch.createdAt
  return {
    id: file.jobId,
    type: batch.type,
    owner: batch.owner,
    state: verdict.ok ? 'queued' : 'failed',
    input: batch.input,
    progress: null,
    result: null,
    error: verdict.ok ? null : verdict.error,
    preview: verdict.ok ? verdict.preview ?? null : null,
    files: [{ field: file.field, name: file.name, path: file.path, size: file.size, mimeType: file.mimeType }],
    checkpoint: null,
    attempt: 1,
    maxAttempts: Math.max(1, definition.retry?.attempts ?? 1),
    createdAt: now,
    startedAt: null,
    finishedAt: verdict.ok ? null : now,
    runAt: now,
    batchId: batch.id,
    idempotencyKey: batch.idempotencyKey === null ? null : `${batch.idempotencyKey}:${index}`,
    requestHash: null,
    lease: null,
    version: 1
  }
}

// What makes two batch starts the same request: type, input, notify, and each file's name and size.
function requestHash (type: string, input: unknown, notify: unknown, files: BatchFile[]): string {
  const hash = createHash('sha256').update(type).update(JSON.stringify(input)).update(JSON.stringify(notify))
  for (const f of files) hash.update(`\0${f.name}\0${f.size}`)
  return hash.digest('base64url')
}
