import type { JobStore } from '../ports/job-store.ts'
import { batchSummary, batchView, type BatchSummary, type BatchView } from '../schemas/batch.ts'
import type { JobViews } from '../schemas/job.ts'
import { batchResult } from './batch-results.ts'
import { emptyCounts, type BatchQuery, type BatchRecord, type DeliveryRecord } from './batch-model.ts'
import type { JobRecord } from './model.ts'

/** A page of batches. */
export interface BatchPage {
  items: BatchSummary[]
  nextCursor: string | null
}

/** Reads batches as their owners see them. Another user's batch does not exist here. */
export class BatchQueries {
  readonly #store: JobStore
  readonly #views: JobViews

  constructor (options: { store: JobStore, views: JobViews }) {
    this.#store = options.store
    this.#views = options.views
  }

  /** The batch record, if `owner` owns it. */
  async get (owner: string, id: string): Promise<BatchRecord | undefined> {
    const batch = await this.#store.getBatch(id)
    return batch?.owner === owner ? batch : undefined
  }

  /** The aggregate of a batch. */
  async summary (batch: BatchRecord): Promise<BatchSummary> {
    return batchSummary(batch, await this.#store.batchCounts(batch.id), this.#views.batchUrl(batch.id))
  }

  /** The batch in full: aggregate, children in file order, result. `children` when the caller has them already. */
  async view (batch: BatchRecord, children?: JobRecord[]): Promise<BatchView> {
    const jobs = children ?? await this.children(batch)
    // Counted from the same children the view lists, so that the aggregate and the list agree.
    const counts = emptyCounts()
    for (const job of jobs) counts[job.state]++
    return batchView(batchSummary(batch, counts, this.#views.batchUrl(batch.id)), jobs.map((job) => this.#views.summary(job)), batchResult(jobs))
  }

  /** Every child of the batch, in file order. */
  async children (batch: BatchRecord): Promise<JobRecord[]> {
    return (await this.#store.list(batch.owner, { batchId: batch.id, limit: batch.total })).reverse()
  }

  /** The owner's batches, newest first, a page at a time. */
  async list (owner: string, query: BatchQuery): Promise<BatchPage> {
    const batches = await this.#store.listBatches(owner, { ...query, limit: query.limit + 1 })
    const page = batches.slice(0, query.limit)
    return { items: await Promise.all(page.map(async (b) => await this.summary(b))), nextCursor: batches.length > query.limit ? page[page.length - 1]!.id : null }
  }

  /** The owner's unfinished batches and those finished since `finishedSince`, newest first (for snapshots). */
  async recent (owner: string, finishedSince: number, limit = 50): Promise<BatchSummary[]> {
    const batches = (await this.#store.listBatches(owner, { limit })).filter((b) => b.finishedAt === null || b.finishedAt >= finishedSince)
    return await Promise.all(batches.map(async (b) => await this.summary(b)))
  }

  /** The deliveries of a job or batch (already checked to be the owner's). */
  async deliveries (subjectId: string): Promise<DeliveryRecord[]> {
    return await this.#store.deliveries(subjectId)
  }
}
