// Batches and notifications as the store keeps them: a batch of child jobs, and the outbox of deliveries.

import type { JobState } from './model.ts'

/** Where to tell that a job or a batch ended: a webhook URL, an email address, or both. */
export interface NotifyTargets {
  webhook?: string | undefined
  email?: string | undefined
}

/** A batch: many files of one type started in one request, one child job per file. Times are epoch ms. */
export interface BatchRecord {
  id: string
  type: string
  owner: string
  /** The `input` applied to every child. */
  input: unknown
  /** Children, failed-at-intake ones included. */
  total: number
  createdAt: number
  /** Set in the commit that makes the last child terminal. */
  finishedAt: number | null
  idempotencyKey: string | null
  requestHash: string | null
  notify: NotifyTargets | null
}

/** How many children of a batch are in each state. */
export type BatchCounts = Record<JobState, number>

/** A page of an owner's batches, newest first. */
export interface BatchQuery {
  limit: number
  /** Batches older than this id. */
  before?: string | undefined
}

/** What `insertBatch` did. */
export type BatchInsertOutcome =
  | { status: 'created', batch: BatchRecord }
  /** The owner already had a batch with this idempotency key: that one, nothing written. */
  | { status: 'existing', batch: BatchRecord }

/** What a delivery tells about: a job or a batch. */
export type SubjectKind = 'job' | 'batch'

/** How a notification travels. */
export type DeliveryChannel = 'webhook' | 'email'

/** Where a delivery stands: pending until delivered, failed (gave up) or disabled (410). */
export type DeliveryState = 'pending' | 'delivered' | 'failed' | 'disabled'

/** One recorded attempt (the shape of `DeliveryAttempt` in src/notify, plus its number). */
export interface StoredAttempt {
  number: number
  at: string
  status: number | null
  error: { code: string, message: string } | null
  durationMs: number
  retryAfterMs: number | null
}

/** An outbox row: one notification of one subject on one channel; its id is the stable `webhook-id`. */
export interface DeliveryRecord {
  id: string
  owner: string
  subjectKind: SubjectKind
  subjectId: string
  channel: DeliveryChannel
  target: string
  state: DeliveryState
  attempts: StoredAttempt[]
  /** When it is next due (pending only). */
  nextAt: number | null
  createdAt: number
}

/** The id of a subject's delivery on a channel: deterministic, so a replayed outbox write adds nothing. */
export function deliveryId (subjectId: string, channel: DeliveryChannel): string {
  return `msg_${subjectId}_${channel}`
}

/** Counts with every state at zero. */
export function emptyCounts (): BatchCounts {
  return { queued: 0, running: 0, completed: 0, failed: 0, canceled: 0 }
}
