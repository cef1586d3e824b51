// The domain model: what a job is, whatever stores it. Ports (src/ports/) and services speak in these types.

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

/** An uploaded file that belongs to a job; `path` is relative to the job's folder in the file store (`uploads/1.csv`). */
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

/** A node's claim on a running job: which node runs it, and until when the claim holds without a heartbeat. */
export interface Lease {
  node: string
  expiresAt: number
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
  /** Set while the job runs. */
  lease: Lease | null
  /**
   * True when a cancel was recorded on the running job (by a store that keeps it, for another node to see): a job
   * whose node stopped is then ended canceled, never run again. Absent otherwise.
   */
  cancelRequested?: boolean
  /** Raised by one on every write; compare-and-set updates name the version they read. */
  version: number
}

/** The fields a write may change: not the input nor the preview, which readers may keep once read. */
export type JobPatch = Partial<Omit<JobRecord, 'id' | 'owner' | 'type' | 'createdAt' | 'version' | 'input' | 'preview'>>

/** A file a job produced. */
export interface ArtifactRecord {
  jobId: string
  name: string
  size: number
  contentType: string
  createdAt: number
}

/** Filters and page of a job list. */
export interface JobQuery {
  state?: JobState | undefined
  type?: string | undefined
  batchId?: string | undefined
  limit: number
  /** Return jobs older than this id (ids sort by creation time). */
  before?: string | undefined
}

/**
 * What happened to a job; the names are the SSE event names. `batch`: a child of the batch changed; its `jobId`
 * is the batch's id and its data the batch's aggregate (it is never terminal: a batch's end is `done` in the data).
 */
export type JobEventKind = 'queued' | 'started' | 'progress' | 'retrying' | 'completed' | 'failed' | 'canceled' | 'batch'

/** Event kinds after which a job never changes again. */
export const TERMINAL_EVENTS: ReadonlySet<JobEventKind> = new Set(['completed', 'failed', 'canceled'])
