import type { BatchCounts, BatchInsertOutcome, BatchQuery, BatchRecord, DeliveryRecord, DeliveryState, NotifyTargets, StoredAttempt } from '../core/batch-model.ts'
import type { JobRecord } from '../core/model.ts'

/**
 * Batches, as part of the job store: a batch and all its children are written in one commit; the batch's
 * `finishedAt` is set in the commit that makes its last child terminal.
 */
export interface BatchStore {
  /**
   * Inserts the batch and every child (queued, or already failed) in one commit. An owner's batch with the same
   * idempotency key is returned instead, and nothing is written.
   */
  insertBatch (batch: BatchRecord, children: JobRecord[]): Promise<BatchInsertOutcome>
  getBatch (id: string): Promise<BatchRecord | undefined>
  /** The owner's batches, newest first. */
  listBatches (owner: string, query: BatchQuery): Promise<BatchRecord[]>
  /** How many children of the batch are in each state. */
  batchCounts (batchId: string): Promise<BatchCounts>
  /** Batches that ended before `time`, oldest first (for retention: their children ended before it too). */
  batchesFinishedBefore (time: number, limit: number): Promise<BatchRecord[]>
  /** Deletes batches and their deliveries (retention deletes their children with `delete` first). */
  deleteBatches (ids: string[]): Promise<void>
}

/**
 * The notification outbox, as part of the job store. A job's targets are set before it is inserted; the store
 * writes a job's deliveries in the commit of its terminal transition and a batch's in the commit that ends it.
 */
export interface NotificationStore {
  /** Where to tell that the job `subjectId` ended (set before its insert; kept with it). */
  setNotify (subjectId: string, owner: string, targets: NotifyTargets): Promise<void>
  /** The deliveries of a job or a batch, oldest first. */
  deliveries (subjectId: string): Promise<DeliveryRecord[]>
  /**
   * Pending deliveries due at `now`, each pushed to `now + leaseMs` so that no other taker gets it meanwhile (a
   * taker that dies leaves it due again then: at least once).
   */
  takeDueDeliveries (now: number, limit: number, leaseMs: number): Promise<DeliveryRecord[]>
  /** The next time a pending delivery is due, if any. */
  nextDeliveryAt (): Promise<number | undefined>
  /** Appends an attempt and sets where the delivery stands (and when it is next due, when pending). */
  recordDelivery (id: string, attempt: StoredAttempt, next: { state: DeliveryState, nextAt: number | null }): Promise<void>
  /** The owner's `whsec_` secret, created on first use. */
  webhookSecret (owner: string): Promise<string>
  /** Replaces the owner's secret with a new one and resolves with it. */
  rotateWebhookSecret (owner: string): Promise<string>
  /** Where the owner is told of the end of a job or batch started without `notify`; null when nowhere. */
  notifyDefaults (owner: string): Promise<NotifyTargets | null>
  /** Sets (or, with null, clears) the owner's default targets; they apply to starts from then on. */
  setNotifyDefaults (owner: string, targets: NotifyTargets | null): Promise<void>
  /**
   * Deletes the targets of starts that were refused or replayed (written before an insert that did not happen),
   * for subjects created before `time`; resolves with how many.
   */
  deleteUnusedTargets (time: number): Promise<number>
}
