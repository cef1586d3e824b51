import type { ProgressUpdate } from './define-job.ts'
import type { JobEventKind, JobPatch, JobRecord, Progress } from './model.ts'

/** Writes a change of a running job: a transition when `kind` is given, a silent write otherwise; undefined when it lost the job. */
export type LiveWrite = (job: JobRecord, kind: JobEventKind | undefined, patch: JobPatch) => Promise<JobRecord | undefined>

/** Told of a write no one awaits that failed (a progress flushed in the background while the store was unreachable). */
export type BackgroundErrorListener = (err: unknown) => void

/** What the handler is told when it is abandoned (it ignored its signal past the grace period). */
export type AbandonListener = (reason: unknown) => void

/**
 * A job while it runs on this node: its latest record, its abort controller, and the coalescing of progress (the
 * latest value wins, at most one write-and-event per `progressIntervalMs`). Its writes go one at a time, each on
 * top of the record the previous one produced, so that compare-and-set never fails against itself.
 */
export class LiveJob {
  readonly controller = new AbortController()
  #record: JobRecord
  readonly #write: LiveWrite
  readonly #intervalMs: number
  readonly #onBackgroundError: BackgroundErrorListener
  #chain: Promise<unknown> = Promise.resolve()
  #pending: Progress | undefined
  #lastFlush = 0
  #timer: NodeJS.Timeout | undefined
  #closed = false
  #lost = false
  #abandon: ((reason: unknown) => void) | undefined
  #graceTimer: NodeJS.Timeout | undefined
  #settled: Array<() => void> | undefined
  #isSettled = false

  constructor (record: JobRecord, write: LiveWrite, progressIntervalMs: number, onBackgroundError: BackgroundErrorListener = () => {}) {
    this.#record = record
    this.#write = write
    this.#intervalMs = progressIntervalMs
    this.#onBackgroundError = onBackgroundError
  }

  /** The job as last written, with any progress not yet written on top. */
  get record (): JobRecord {
    return this.#pending === undefined ? this.#record : { ...this.#record, progress: this.#pending }
  }

  /** Whether a write found the job changed by someone else (its lease was taken): nothing more is written. */
  get lost (): boolean {
    return this.#lost
  }

  /** Queues a write after the ones before it; resolves with the record it produced (undefined once the job is lost). */
  async write (kind: JobEventKind | undefined, patch: JobPatch): Promise<JobRecord | undefined> {
    const run = async (): Promise<JobRecord | undefined> => {
      if (this.#lost) return undefined
      const next = await this.#write(this.#record, kind, patch)
      if (next === undefined) this.#lost = true
      else this.#record = next
      return next
    }
    const result = this.#chain.then(run, run)
    this.#chain = result.catch(() => {})
    return await result
  }

  /** Resolves once every write queued so far has been made. */
  async drain (): Promise<void> {
    await this.#chain
  }

  /** Applies a progress update: derives percent and ETA; written and published at the bounded rate. */
  progress (update: ProgressUpdate): void {
    if (this.#closed) return
    const previous = this.record.progress
    const current = update.current ?? previous?.current ?? 0
    const total = update.total !== undefined ? update.total : previous?.total ?? null
    const percent = total !== null && total > 0 ? Math.min(100, Math.round((current / total) * 1000) / 10) : null
    this.#pending = {
      current,
      total,
      percent,
      message: update.message !== undefined ? update.message : previous?.message ?? null,
      stage: update.stage !== undefined ? update.stage : previous?.stage ?? null,
      etaMs: update.etaMs !== undefined ? update.etaMs : this.#estimate(current, total)
    }
    if (this.#timer !== undefined) return
    const wait = this.#lastFlush + this.#intervalMs - Date.now()
    if (wait <= 0) {
      this.#flushInBackground()
      return
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#flushInBackground()
    }, wait)
  }

  // No one awaits these flushes: a write that fails (the store is unreachable) goes to the listener instead of
  // rejecting unhandled, which would end the process (and with it every job it runs).
  #flushInBackground (): void {
    this.flushProgress().catch((err: unknown) => { this.#onBackgroundError(err) })
  }

  /** Writes and publishes the progress held back, if any: a state change calls this first, so the final value is seen first. */
  async flushProgress (): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const progress = this.#pending
    if (progress === undefined) return
    this.#pending = undefined
    this.#lastFlush = Date.now()
    try {
      await this.write('progress', { progress })
    } catch (err) {
      // Not written: held back again for the next write, unless a newer value came meanwhile.
      this.#pending ??= progress
      throw err
    }
  }

  // Remaining time at the average rate so far.
  #estimate (current: number, total: number | null): number | null {
    const startedAt = this.#record.startedAt
    if (total === null || startedAt === null || current <= 0 || current > total) return null
    return Math.round(((Date.now() - startedAt) / current) * (total - current))
  }

  /**
   * Settles like the handler's promise, or rejects with the abort reason when the handler is still going
   * `graceMs` after an `abort()` (its slot is then taken back).
   */
  async race<T> (running: Promise<T>, graceMs: number, onAbandon: AbandonListener): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      this.#abandon = (reason) => {
        this.#graceTimer = setTimeout(() => {
          onAbandon(reason)
          reject(reason)
        }, graceMs)
      }
      if (this.controller.signal.aborted) this.#abandon(this.controller.signal.reason)
      running.then(resolve, reject)
    })
  }

  /** Fires the handler's signal with `reason` (once) and starts the grace period. */
  abort (reason: unknown): void {
    if (this.controller.signal.aborted) return
    this.controller.abort(reason)
    this.#abandon?.(reason)
  }

  /** Resolves once the job has stopped and its outcome is recorded. */
  async settled (): Promise<void> {
    if (this.#isSettled) return
    await new Promise<void>((resolve) => { (this.#settled ??= []).push(resolve) })
  }

  /** Marks the outcome recorded: wakes `settled()` waiters. */
  markSettled (): void {
    this.#isSettled = true
    for (const resolve of this.#settled ?? []) resolve()
    this.#settled = undefined
  }

  /** Stops the timers and takes no more progress; held-back progress stays in {@link record} for the final write. */
  close (): void {
    this.#closed = true
    clearTimeout(this.#graceTimer)
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Progress not yet written (the final write carries it). */
  takePending (): Progress | undefined {
    const progress = this.#pending
    this.#pending = undefined
    return progress
  }
}
