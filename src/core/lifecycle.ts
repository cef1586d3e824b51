import type { Logger } from 'pino'
import type { JobEvents } from '../ports/job-events.ts'
import type { InsertOutcome, JobStore } from '../ports/job-store.ts'
import { batchSummary } from '../schemas/batch.ts'
import type { JobViews } from '../schemas/job.ts'
import { TERMINAL_EVENTS, type ArtifactRecord, type JobEventKind, type JobPatch, type JobRecord } from './model.ts'

/**
 * The one writer of a job's lifecycle: every change is a compare-and-set write to the store followed by the event
 * that tells everyone about it. Nothing else changes a job's state (the store's `claim` is the queued → running
 * write, and its event is published here by {@link started}). A change of a batch's child is followed by a `batch`
 * event carrying the batch's aggregate.
 */
export class Lifecycle {
  readonly #store: JobStore
  readonly #events: JobEvents
  readonly #views: JobViews
  readonly #log: Logger

  constructor (options: { store: JobStore, events: JobEvents, views: JobViews, log: Logger }) {
    this.#store = options.store
    this.#events = options.events
    this.#views = options.views
    this.#log = options.log
  }

  /**
   * Writes `patch` if the job is still at `job.version`, then publishes `kind`. Resolves with the job as written, or
   * undefined when another writer changed it first (nothing is written or published then).
   */
  async transition (job: JobRecord, kind: JobEventKind, patch: JobPatch): Promise<JobRecord | undefined> {
    const next = await this.#store.update(job, patch)
    if (next !== undefined) await this.publish(kind, next)
    return next
  }

  /**
   * Inserts a queued job under the idempotency and admission rules (`JobStore.insertOrGet`) and, when it was
   * created, publishes its `queued` event: in the insert's commit when the store keeps the events too.
   */
  async admit (job: JobRecord, limits: { maxQueued: number }): Promise<InsertOutcome> {
    if (this.#store.appendsEvents !== true) {
      const outcome = await this.#store.insertOrGet(job, limits)
      if (outcome.status === 'created') await this.publish('queued', outcome.job)
      return outcome
    }
    const outcome = await this.#store.insertOrGet(job, limits, { kind: 'queued', data: this.#data(job, []) })
    if (outcome.status === 'created' && job.batchId !== null) await this.publishBatch(job.batchId)
    return outcome
  }

  /** Writes fields that are not a change anyone watches (a checkpoint): compare-and-set, no event. */
  async write (job: JobRecord, patch: JobPatch): Promise<JobRecord | undefined> {
    return await this.#store.update(job, patch)
  }

  /** Publishes the `started` event of a job the store just claimed. */
  async started (job: JobRecord): Promise<void> {
    await this.publish('started', job)
  }

  /**
   * Publishes an event about `job` as it is now, then (unless `batch` is false, or it is only progress) the `batch`
   * event of its batch. A failure to publish is logged: it never stops the job's lifecycle.
   */
  async publish (kind: JobEventKind, job: JobRecord, options: { batch?: boolean } = {}): Promise<void> {
    try {
      const artifacts = TERMINAL_EVENTS.has(kind) ? await this.#store.artifacts(job.id) : []
      await this.#events.publish({ kind, jobId: job.id, owner: job.owner, batchId: job.batchId, data: this.#data(job, artifacts), job })
    } catch (err) {
      this.#log.error({ err, jobId: job.id, kind }, 'publishing a job event failed; the change is stored, streams catch up on their next snapshot')
    }
    if (job.batchId !== null && kind !== 'progress' && options.batch !== false) await this.publishBatch(job.batchId)
  }

  // An event's payload: the job's summary view.
  #data (job: JobRecord, artifacts: ArtifactRecord[]): string {
    return JSON.stringify(this.#views.summary(job, artifacts))
  }

  /** Publishes the `batch` event of a batch: its aggregate as it is now (its `jobId` is the batch's id). */
  async publishBatch (batchId: string): Promise<void> {
    try {
      const batch = await this.#store.getBatch(batchId)
      if (batch === undefined) return
      const summary = batchSummary(batch, await this.#store.batchCounts(batchId), this.#views.batchUrl(batchId))
      await this.#events.publish({ kind: 'batch', jobId: batchId, owner: batch.owner, batchId, data: JSON.stringify(summary) })
    } catch (err) {
      this.#log.error({ err, batchId }, 'publishing a batch event failed; streams catch up on their next snapshot')
    }
  }
}
