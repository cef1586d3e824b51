/** Lifecycle states of a job. */
export const JobState = {
  queued: 'queued',
  running: 'running',
  completed: 'completed',
  failed: 'failed',
  canceled: 'canceled'
} as const
/** One of the values of {@link JobState}. */
export type JobState = typeof JobState[keyof typeof JobState]

/** States a job never leaves. */
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(['completed', 'failed', 'canceled'])

/** Typed progress of a job: never free-form. */
export interface Progress {
  current: number
  total: number | null
  percent: number | null
  message: string | null
  stage: string | null
  etaMs: number | null
}

/** An uploaded file that belongs to a job; `path` is relative to the job's folder. */
export interface JobFile {
  field: string
  name: string
  path: string
  size: number
  mimeType: string
}

/** The `{ code, message }` of a failed job. */
export interface JobError {
  code: string
  message: string
}

/** A job as the store keeps it. Times are epoch milliseconds. */
export interface JobRecord {
  id: string
  type: string
  owner: string
  state: JobState
  input: unknown
  progress: Progress | null
  result: unknown
  error: JobError | null
  preview: unknown
  files: JobFile[]
  checkpoint: unknown
  attempt: number
  maxAttempts: number
  createdAt: number
  startedAt: number | null
  finishedAt: number | null
  runAt: number
  batchId: string | null
  idempotencyKey: string | null
  requestHash: string | null
  version: number
}

/** A file a job produced. */
export interface ArtifactRecord {
  jobId: string
  name: string
  size: number
  contentType: string
  createdAt: number
}

/** Filters and page of `listJobs`. */
export interface JobQuery {
  state?: JobState | undefined
  type?: string | undefined
  batchId?: string | undefined
  limit: number
  /** Return jobs older than this id (ids sort by creation time). */
  before?: string | undefined
}

/** Durable storage of jobs: the port the job service talks to. */
export interface JobStore {
  /** Queues the insert of a new job (committed with the others of this turn; see `durable`). */
  insert (job: JobRecord): void
  get (id: string): JobRecord | undefined
  /** The owner's job started with this idempotency key. */
  findByIdempotencyKey (owner: string, key: string): JobRecord | undefined
  list (owner: string, query: JobQuery): JobRecord[]
  /** Queues a write of the changed fields (the version goes up by one). */
  update (id: string, patch: Partial<Omit<JobRecord, 'id' | 'version'>>): void
  /** Resolves once every write queued so far is committed; rejects if that commit failed. */
  durable (): Promise<void>
  /** Commits every queued write now. Reads do this first, so they see every earlier write. */
  flush (): void
  /** The owner's unfinished jobs and those finished at or after `finishedSince`, newest first. */
  recent (owner: string, finishedSince: number, limit: number): JobRecord[]
  /** Queued jobs in the order they should run. */
  queued (): JobRecord[]
  /** Jobs left `running` (by a crash or a kill). */
  running (): JobRecord[]
  /** Finished jobs whose `finishedAt` is before `time`. */
  finishedBefore (time: number, limit: number): JobRecord[]
  delete (ids: string[]): void
  addArtifact (artifact: ArtifactRecord): void
  artifacts (jobId: string): ArtifactRecord[]
  /** Runs `fn` in one transaction. */
  transaction<T> (fn: () => T): T
}
