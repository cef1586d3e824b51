import { Readable } from 'node:stream'
import type { Logger } from 'pino'
import { JobcastError, PermanentError, RetryableError, toJobError } from '../errors.ts'
import type { FileStore } from '../ports/file-store.ts'
import type { JobStore } from '../ports/job-store.ts'
import type { ArtifactSource, JobContext, MapOptions, MapOutcome, MapResult } from './define-job.ts'
import { isSafeFileName } from './job-files.ts'
import type { LiveJob } from './live-job.ts'

/** What a job keeps in its checkpoint column: the handler's own state and the results of finished steps. */
interface StoredCheckpoint {
  state?: unknown
  steps?: Record<string, unknown>
}

/** What a context needs besides the running job. */
export interface JobContextDeps {
  store: JobStore
  files: FileStore
  log: Logger
}

/** Builds the context a handler runs with. */
export function createJobContext (live: LiveJob, { store, files, log }: JobContextDeps): JobContext {
  const record = live.record
  const saved = (record.checkpoint ?? {}) as StoredCheckpoint
  const checkpoint: StoredCheckpoint = { state: saved.state, steps: { ...saved.steps } }
  const signal = live.controller.signal
  // A checkpoint is written at once: it is what a re-run after a crash resumes from. A copy, so that the handler
  // may go on mutating its state object.
  const persist = async (): Promise<void> => {
    await live.write(undefined, { checkpoint: structuredClone(checkpoint) })
  }

  const ctx: JobContext = {
    id: record.id,
    type: record.type,
    owner: record.owner,
    attempt: record.attempt,
    maxAttempts: record.maxAttempts,
    input: record.input,
    files: record.files.map((f) => ({ ...f, path: files.localPath(record.id, f.path) })),
    signal,
    log,
    lastCheckpoint: saved.state,
    preview: record.preview,

    progress: (update) => { live.progress(update) },

    checkpoint (state) {
      checkpoint.state = state
      const written = persist()
      // A handler may go on without awaiting its checkpoint: a failed write (the store unreachable) must then not
      // reject unhandled, which would end the process. One that awaits it still sees the rejection.
      written.catch((err: unknown) => { log.warn({ err }, 'a checkpoint write failed') })
      return written
    },

    async step (name, fn) {
      if (checkpoint.steps !== undefined && name in checkpoint.steps) {
        log.debug({ step: name }, 'step done in an earlier attempt; reusing its result')
        return checkpoint.steps[name] as Awaited<ReturnType<typeof fn>>
      }
      live.progress({ stage: name })
      const value = await fn()
      checkpoint.steps = { ...checkpoint.steps, [name]: value ?? null }
      await persist()
      return value
    },

    map: async (items, fn, options) => await mapItems(ctx, items, fn, options),

    async artifact (name, source, options) {
      if (!isSafeFileName(name)) throw new JobcastError('INVALID_ARTIFACT_NAME', `artifact name "${name}" may only hold letters, digits, ".", "-" and "_"`)
      const size = await files.write(record.id, `artifacts/${name}`, toStream(source), { signal })
      await store.addArtifact({ jobId: record.id, name, size, contentType: options?.contentType ?? 'application/octet-stream', createdAt: Date.now() })
      return { name, size }
    }
  }
  return ctx
}

function toStream (source: ArtifactSource): Readable | AsyncIterable<Uint8Array> {
  if (typeof source === 'string') return Readable.from([Buffer.from(source)])
  if (source instanceof Uint8Array) return Readable.from([source])
  return source
}

// Bounded pool over items: per-item abort on timeout, failures collected (or fatal with failFast).
async function mapItems<T, R> (
  ctx: JobContext,
  items: readonly T[],
  fn: (item: T, index: number, signal: AbortSignal) => Promise<R>,
  options: MapOptions = {}
): Promise<MapResult<R>> {
  const { concurrency = 10, timeoutMs, failFast = false, progress = true, label = 'item' } = options
  const outcomes: Array<MapOutcome<R>> = new Array(items.length)
  let next = 0
  let done = 0
  let failed = 0
  let firstFailure: MapOutcome<R> | undefined
  // What each failed item threw, as thrown: failFast rethrows it with its class (permanent or retryable, Retry-After).
  const thrown = new Map<number, unknown>()

  const runItem = async (index: number): Promise<MapOutcome<R>> => {
    const controller = new AbortController()
    const onParentAbort = (): void => { controller.abort(ctx.signal.reason) }
    ctx.signal.addEventListener('abort', onParentAbort, { once: true })
    const timer = timeoutMs === undefined
      ? undefined
      : setTimeout(() => { controller.abort(new JobcastError('ITEM_TIMEOUT', `${label} ${index + 1} timed out after ${timeoutMs} ms`)) }, timeoutMs)
    try {
      // The race lets the pool move on even when fn ignores its signal.
      const value = await Promise.race([fn(items[index]!, index, controller.signal), rejectOnAbort(controller.signal)])
      // An fn that answers its abort by returning (what it has so far) still timed out: the abort decides.
      if (controller.signal.aborted) throw controller.signal.reason
      return { index, ok: true, value }
    } catch (err) {
      const error = controller.signal.aborted ? controller.signal.reason as unknown : err
      thrown.set(index, error)
      return { index, ok: false, error: toJobError(error) }
    } finally {
      clearTimeout(timer)
      ctx.signal.removeEventListener('abort', onParentAbort)
    }
  }

  const worker = async (): Promise<void> => {
    while (next < items.length && !ctx.signal.aborted && (firstFailure === undefined || !failFast)) {
      const index = next++
      const outcome = await runItem(index)
      outcomes[index] = outcome
      done++
      if (!outcome.ok) {
        failed++
        firstFailure ??= outcome
      }
      if (progress) ctx.progress({ current: done, total: items.length, message: `${label} ${done} of ${items.length}` })
    }
  }

  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  if (ctx.signal.aborted) throw ctx.signal.reason
  if (failFast && firstFailure !== undefined && !firstFailure.ok) {
    throw asFailFast(thrown.get(firstFailure.index), firstFailure.error, `${label} ${firstFailure.index + 1} failed: ${firstFailure.error.message}`)
  }
  return { outcomes, succeeded: done - failed, failed }
}

// The item's error under the map's message, keeping what the runner decides on: permanent, or retryable after a wait.
function asFailFast (error: unknown, { code }: { code: string }, message: string): JobcastError {
  if (error instanceof PermanentError) return new PermanentError(code, message)
  if (error instanceof RetryableError) return new RetryableError(message, { code, cause: error, ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }) })
  const retryAfterMs = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs
  return Object.assign(new JobcastError(code, message, 500, { cause: error }), typeof retryAfterMs === 'number' ? { retryAfterMs } : {})
}

async function rejectOnAbort (signal: AbortSignal): Promise<never> {
  return await new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason)
    else signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
  })
}
