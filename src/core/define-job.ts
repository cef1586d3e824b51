import type { Static, TSchema } from 'typebox'
import type { Logger } from 'pino'
import type { Readable } from 'node:stream'
import type { ServiceLimits } from './key-limiter.ts'
import type { JobFile, Progress } from './model.ts'

/** Bytes in a mebibyte, for `files.maxBytes`. */
export const MiB = 1024 * 1024

/** What a job type accepts as uploaded files. */
export interface FilesSpec {
  /** Fewest files a start must carry (default 1). */
  min?: number
  /** Most files a start may carry (default 1). */
  max?: number
  /** Largest size of one file, in bytes. */
  maxBytes: number
  /** Accepted extensions (`.csv`) and MIME types (`text/csv`); empty or absent accepts anything. */
  accept?: string[]
}

/** How a failed attempt is retried. */
export interface RetryPolicy {
  /** Total attempts, the first included (default 1: no retry). */
  attempts: number
  /** Growth of the wait between attempts (default 'exponential'). */
  backoff?: 'exponential' | 'fixed'
  /** Base wait in ms (default 1000). */
  baseMs?: number
  /** Longest wait in ms, before `retryAfterMs` is applied (default 60000). */
  maxMs?: number
}

/** Progress as a handler reports it; `percent` and `etaMs` are derived when left out. */
export type ProgressUpdate = Partial<Pick<Progress, 'current' | 'total' | 'message' | 'stage' | 'etaMs'>>

/** One item's outcome in {@link JobContext.map}. */
export type MapOutcome<R> =
  | { index: number, ok: true, value: R }
  | { index: number, ok: false, error: { code: string, message: string } }

/** What {@link JobContext.map} returns: every item's outcome, in input order. */
export interface MapResult<R> {
  outcomes: Array<MapOutcome<R>>
  succeeded: number
  failed: number
}

/** Options of {@link JobContext.map}. */
export interface MapOptions {
  /** Items run at once (default 10). */
  concurrency?: number
  /** Per-item time limit in ms; the item's signal aborts and it fails with ITEM_TIMEOUT (default: none). */
  timeoutMs?: number
  /** Fail the whole job on the first item failure (default false: failures are collected). */
  failFast?: boolean
  /** Report "item k of n" progress (default true). */
  progress?: boolean
  /** Label used in the progress message (default 'item'). */
  label?: string
}

/** Data an artifact can be written from. */
export type ArtifactSource = string | Uint8Array | Readable | AsyncIterable<Uint8Array>

/** What a handler gets: its input, files, signal, logger and the ways to report and persist. */
export interface JobContext<Input = unknown> {
  readonly id: string
  readonly type: string
  readonly owner: string
  readonly attempt: number
  readonly maxAttempts: number
  readonly input: Input
  /** Uploaded files, with `path` absolute. */
  readonly files: JobFile[]
  /** Fires on cancel, timeout or shutdown; its `reason` says which. */
  readonly signal: AbortSignal
  readonly log: Logger
  /** The state saved by the last `checkpoint()` of an earlier attempt, if any. */
  readonly lastCheckpoint: unknown
  /** The job's preview, as computed when it was accepted. */
  readonly preview: unknown
  /** Reports progress; cheap to call often (coalesced and written through at a bounded rate). */
  progress (update: ProgressUpdate): void
  /** Runs a named step once: on a re-run after a crash, a step that completed returns its saved result. */
  step<T> (name: string, fn: () => Promise<T> | T): Promise<T>
  /** Runs `fn` over `items` with bounded concurrency and per-item timeouts, collecting per-item failures. */
  map<T, R> (items: readonly T[], fn: (item: T, index: number, signal: AbortSignal) => Promise<R>, options?: MapOptions): Promise<MapResult<R>>
  /** Saves state durably so that a re-run can resume from it (`lastCheckpoint`). */
  checkpoint (state: unknown): Promise<void>
  /** Writes an output file, downloadable by the owner at `/api/jobs/:id/artifacts/:name`. */
  artifact (name: string, source: ArtifactSource, options?: { contentType?: string }): Promise<{ name: string, size: number }>
}

/** What `preview` gets: the validated input and the uploaded files, before the job is queued. */
export interface PreviewArgs<Input> {
  input: Input
  files: JobFile[]
}

/** A registered kind of work. */
export interface JobDefinition<S extends TSchema = TSchema, R = unknown> {
  /** URL-safe name: `POST /api/jobs/:type`. */
  type: string
  /** One line for people, shown by `GET /api/job-types`. */
  description?: string
  /** TypeBox schema of the JSON input; a start whose input does not match is a 400 naming the field. */
  input: S
  /** Uploaded files the type takes (absent: none). */
  files?: FilesSpec
  /** Most jobs of this type running at once (default: no own bound). */
  concurrency?: number
  retry?: RetryPolicy
  /**
   * An external service this type calls, shared with every type naming the same key: jobs wait (running, before
   * their handler) for one of `concurrency` slots and a start within `ratePerSecond`. Held across every node on
   * PostgreSQL (PgServiceLimiter), in the process on SQLite (KeyLimiters).
   */
  limits?: ServiceLimits
  /** Time limit of one attempt in ms; past it the signal aborts and the job fails with TIMEOUT (default: none). */
  timeoutMs?: number
  /** Computed when a job is accepted, before it is queued; returned in the 202. Throw a ClientError to refuse the start. */
  preview?: (args: PreviewArgs<Static<S>>) => Promise<unknown> | unknown
  run: (ctx: JobContext<Static<S>>) => Promise<R>
}

/** Declares a job type; the identity function that gives `run` its typed context. */
export function defineJob<S extends TSchema, R> (definition: JobDefinition<S, R>): JobDefinition<S, R> {
  return definition
}
