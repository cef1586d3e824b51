// The shapes the jobcast HTTP API answers with, as the client sees them. Self-contained: the client imports nothing.

/** Lifecycle states of a job. */
export type JobState = 'queued' | 'running' | 'completed' | 'failed' | 'canceled'

/** Typed progress of a job. */
export interface Progress {
  current: number
  total: number | null
  percent: number | null
  message: string | null
  stage: string | null
  etaMs: number | null
}

/** A file a job produced; `url` is the server's path of its download. */
export interface Artifact {
  name: string
  size: number
  contentType: string
  url: string
}

/** A job as the API shows it. */
export interface JobView {
  id: string
  type: string
  state: JobState
  owner: string
  input: unknown
  progress: Progress | null
  result: unknown
  error: { code: string, message: string } | null
  preview: unknown
  files: Array<{ field: string, name: string, size: number, mimeType: string }>
  artifacts: Artifact[]
  attempt: number
  maxAttempts: number
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  runAt: string
  batchId: string | null
  url: string
}

/** A batch as the API shows it (the jobs of one request); only the fields the client relies on are named. */
export interface BatchView {
  id: string
  type: string
  state?: string
  aggregate?: { total: number, queued: number, running: number, completed: number, failed: number, canceled: number, percent: number | null, done: boolean, succeeded: boolean }
  createdAt?: string
  [key: string]: unknown
}

/** A registered job type, as GET api/job-types lists it. */
export interface JobType {
  type: string
  description: string | null
  /** JSON Schema of the input. */
  input: unknown
  files: { min: number, max: number, maxBytes: number, accept: string[] } | null
  concurrency: number | null
  maxAttempts: number
  timeoutMs: number | null
}

/** How updates arrive now: over the stream, by polling while the stream is down, or not yet. */
export type ConnectionState = 'connecting' | 'live' | 'polling' | 'closed'

/** Names of the events of a job. */
export type JobEventKind = 'queued' | 'started' | 'progress' | 'retrying' | 'completed' | 'failed' | 'canceled'

/** What `watchAll` delivers: a full picture (on first connect, after a poll, or when replay was impossible), or one change. */
export type FeedEvent =
  | { kind: 'snapshot', cursor: string, jobs: JobView[], batches: BatchView[], source: 'stream' | 'poll' }
  | { kind: JobEventKind, cursor: string, job: JobView }
  | { kind: 'batch', cursor: string, batch: BatchView }

/** The error body of every 4xx/5xx answer. */
export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
}
