import type { JobRecord, JobStore, Progress } from '../adapters/sqlite/types.ts'
import type { EventBus, JobEventKind } from './event-bus.ts'
import type { ProgressUpdate } from './define-job.ts'

/** How often a running job's progress may reach listeners and the store. */
export interface ProgressRates {
  /** Least time between two progress events of one job, in ms. */
  emitIntervalMs: number
  /** Least time between two progress writes of one job to the store, in ms. */
  writeIntervalMs: number
}

/** What the handler is told when it is abandoned (it ignored its signal past the grace period). */
export type AbandonListener = (reason: unknown) => void

/**
 * A job while it runs: the live record (newer than the store by at most one write interval), its abort
 * controller, and the coalescing of progress: the latest value wins, at a bounded rate, and a state change
 * always flushes the progress before it so that listeners see the final value first.
 */
export class LiveJob {
  record: JobRecord
  readonly controller = new AbortController()
  readonly #store: JobStore
  readonly #bus: EventBus
  readonly #rates: ProgressRates
  #lastEmit = 0
  #lastWrite = 0
  #emitTimer: NodeJS.Timeout | undefined
  #writeTimer: NodeJS.Timeout | undefined
  #emitPending = false
  #writePending = false
  #closed = false
  #abandon: ((reason: unknown) => void) | undefined
  #graceTimer: NodeJS.Timeout | undefined
  #settled: Array<() => void> | undefined

  constructor (record: JobRecord, store: JobStore, bus: EventBus, rates: ProgressRates) {
    this.record = record
    this.#store = store
    this.#bus = bus
    this.#rates = rates
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
    await new Promise<void>((resolve) => { (this.#settled ??= []).push(resolve) })
  }

  /** Marks the outcome recorded: wakes `settled()` waiters. */
  markSettled (): void {
    for (const resolve of this.#settled ?? []) resolve()
    this.#settled = undefined
  }

  get closed (): boolean {
    return this.#closed
  }

  /** Applies a progress update: derives percent and ETA, then emits and writes it at the bounded rates. */
  progress (update: ProgressUpdate): void {
    if (this.#closed) return
    const previous = this.record.progress
    const current = update.current ?? previous?.current ?? 0
    const total = update.total !== undefined ? update.total : previous?.total ?? null
    const percent = total !== null && total > 0 ? Math.min(100, Math.round((current / total) * 1000) / 10) : null
    const progress: Progress = {
      current,
      total,
      percent,
      message: update.message !== undefined ? update.message : previous?.message ?? null,
      stage: update.stage !== undefined ? update.stage : previous?.stage ?? null,
      etaMs: update.etaMs !== undefined ? update.etaMs : this.#estimate(current, total)
    }
    this.record = { ...this.record, progress }
    this.#emitPending = true
    this.#writePending = true
    this.#scheduleEmit()
    this.#scheduleWrite()
  }

  // Remaining time at the average rate so far.
  #estimate (current: number, total: number | null): number | null {
    const startedAt = this.record.startedAt
    if (total === null || startedAt === null || current <= 0 || current > total) return null
    const elapsed = Date.now() - startedAt
    return Math.round((elapsed / current) * (total - current))
  }

  #scheduleEmit (): void {
    if (this.#emitTimer !== undefined) return
    const wait = this.#lastEmit + this.#rates.emitIntervalMs - Date.now()
    if (wait <= 0) {
      this.#flushEmit()
      return
    }
    this.#emitTimer = setTimeout(() => {
      this.#emitTimer = undefined
      this.#flushEmit()
    }, wait)
  }

  #flushEmit (): void {
    if (!this.#emitPending) return
    this.#emitPending = false
    this.#lastEmit = Date.now()
    this.#bus.emit('job', { kind: 'progress', job: this.record })
  }

  #scheduleWrite (): void {
    if (this.#writeTimer !== undefined) return
    const wait = this.#lastWrite + this.#rates.writeIntervalMs - Date.now()
    this.#writeTimer = setTimeout(() => {
      this.#writeTimer = undefined
      this.#flushWrite()
    }, Math.max(0, wait))
  }

  #flushWrite (): void {
    if (!this.#writePending || this.#closed) return
    this.#writePending = false
    this.#lastWrite = Date.now()
    this.#store.update(this.record.id, { progress: this.record.progress })
  }

  /** Emits a state change, after any progress still held back. */
  emit (kind: JobEventKind, record: JobRecord): void {
    this.#flushEmit()
    this.record = record
    this.#bus.emit('job', { kind, job: record })
  }

  /** Stops the timers; the caller writes the final state (progress included) itself. */
  close (): void {
    this.#flushEmit()
    this.#closed = true
    clearTimeout(this.#graceTimer)
    clearTimeout(this.#emitTimer)
    clearTimeout(this.#writeTimer)
    this.#emitTimer = undefined
    this.#writeTimer = undefined
  }
}
