import type { BatchStore, NotificationStore } from './batch-store.ts'
import type { ArtifactRecord, JobEventKind, JobPatch, JobQuery, JobRecord, JobState } from '../core/model.ts'

/** The bounds a claim must respect, cluster-wide where the store is shared. */
export interface ClaimBounds {
  /** Jobs of one owner running at once. */
  userConcurrency: number
  /** Jobs of one type running at once; undefined: no bound of its own. */
  typeConcurrency: (type: string) => number | undefined
}

/** What a heartbeat found: leases lost, and jobs whose cancel was requested meanwhile. */
export interface HeartbeatAnswer {
  lost: string[]
  canceled: string[]
}

/** An event for a store to append in the same commit as the write it describes (see `JobStore.appendsEvents`). */
export interface CommitEvent {
  kind: JobEventKind
  /** The payload, as `JobEvents.publish` takes it. */
  data: string
}

/** What `insertOrGet` did. */
export type InsertOutcome =
  | { status: 'created', job: JobRecord }
  /** The owner already had a job with this idempotency key: that job. */
  | { status: 'existing', job: JobRecord }
  /** The owner has `maxQueued` jobs waiting already: nothing was written. */
  | { status: 'queue-full' }

/**
 * Durable storage of jobs: the port every job service talks to. Every method is async, so a store may be a
 * server away; a write resolves once every later read of the store (on any node) sees it. Batches and the
 * notification outbox live in the same store, so that they commit with the job changes they follow.
 */
export interface JobStore extends BatchStore, NotificationStore {
  /**
   * True when this store keeps the job events too (one database for both): it appends the `event` given to
   * `insertOrGet` in the same commit as the job, and delivers it to the subscribers of those events, so the
   * caller does not publish it. Otherwise the event is ignored and the caller publishes it after the write.
   */
  readonly appendsEvents?: boolean
  /**
   * Inserts a queued job, atomically with the idempotency and admission checks: an existing job of the owner
   * with the same idempotency key is returned instead, and nothing is written when the owner already has
   * `maxQueued` queued jobs. Resolves once the insert (and `event`, see `appendsEvents`) is durable.
   */
  insertOrGet (job: JobRecord, limits: { maxQueued: number }, event?: CommitEvent): Promise<InsertOutcome>
  get (id: string): Promise<JobRecord | undefined>
  /**
   * The job as `list` gives it (no input, preview or checkpoint): for a reader that keeps those apart, since input
   * and preview never change once inserted.
   */
  peek (id: string): Promise<JobRecord | undefined>
  /**
   * The owner's jobs, newest first, without their input, preview and checkpoint (null): what lists show, so that a
   * page of jobs with big inputs is never read whole (`get` has them).
   */
  list (owner: string, query: JobQuery): Promise<JobRecord[]>
  /** The owner's unfinished jobs and those finished at or after `finishedSince`, newest first, as `list` gives them. */
  recent (owner: string, finishedSince: number, limit: number): Promise<JobRecord[]>
  /** Queued jobs of the owner. */
  countQueued (owner: string): Promise<number>
  /** How many jobs there are of each type in each state (for metrics and health). */
  countByState (): Promise<Array<{ type: string, state: JobState, count: number }>>
  /**
   * Compare-and-set: applies `patch` if the stored job still has `job.version`, raising the version by one.
   * Resolves with the job as written, or undefined when another writer changed it first (re-read and decide again).
   * A terminal patch also writes, in the same commit, the job's outbox deliveries and, when it ends its batch, the
   * batch's `finishedAt` and deliveries.
   */
  update (job: JobRecord, patch: JobPatch): Promise<JobRecord | undefined>
  /**
   * Claims up to `max` runnable jobs (queued, `runAt` come) for `node`, in fair order: round-robin between owners,
   * FIFO per owner and type, under `bounds`. Each is written `running` with a lease until now + `leaseMs`.
   */
  claim (node: string, max: number, bounds: ClaimBounds, leaseMs: number): Promise<JobRecord[]>
  /**
   * Extends the leases `node` holds on `ids`; resolves with the ids whose lease `node` no longer holds (`lost`), and
   * those of the rest whose cancel was requested (`canceled`: the node stops them).
   */
  heartbeat (node: string, ids: string[], leaseMs: number): Promise<HeartbeatAnswer>
  /**
   * Records on a running job that its owner asked to cancel it (no version change: the running node's copy stays
   * current), so that its node stops it at the next heartbeat even if it missed the cancel notification.
   * Resolves with whether the job was running.
   */
  requestCancel (id: string): Promise<boolean>
  /** Running jobs whose lease has expired at `now` (their node stopped heartbeating): to be re-queued or failed. */
  expiredLeases (now: number, limit: number): Promise<JobRecord[]>
  /** The earliest `runAt` of a queued job in the future, if any: when a claim may next find work. */
  nextRunAt (): Promise<number | undefined>
  /**
   * Finished jobs outside any batch whose `finishedAt` is before `time`, oldest first. A batch's children stay as
   * long as their batch does (see `batchesFinishedBefore`): a batch never loses a child while it is kept.
   */
  finishedBefore (time: number, limit: number): Promise<JobRecord[]>
  /** Deletes jobs, with their artifact records, notify targets and deliveries. */
  delete (ids: string[]): Promise<void>
  /** Records a file a job produced (replacing one of the same name). */
  addArtifact (artifact: ArtifactRecord): Promise<void>
  artifacts (jobId: string): Promise<ArtifactRecord[]>
  /** Whether writes are possible now, and the last write error (with a `code` when it has one, e.g. DATABASE_CORRUPT). */
  health (): Promise<{ ok: boolean, error?: string, code?: string }>
  /** Told of an error a request met in this store that marks it broken (a damaged file): health reports it from then on. */
  reportFault?: (err: unknown) => void
  /** Commits what is pending and releases the store; safe to call twice. */
  close (): Promise<void>
}
