import { Type, type Static } from 'typebox'
import { TERMINAL_STATES, type ArtifactRecord, type JobRecord } from '../core/model.ts'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])

/** Typed progress of a job. */
export const ProgressSchema = Type.Object({
  current: Type.Number(),
  total: Nullable(Type.Number()),
  percent: Nullable(Type.Number()),
  message: Nullable(Type.String()),
  stage: Nullable(Type.String()),
  etaMs: Nullable(Type.Number())
})

/** `{ code, message }` of a failure. */
export const JobErrorSchema = Type.Object({ code: Type.String(), message: Type.String() })

const ArtifactSchema = Type.Object({ name: Type.String(), size: Type.Number(), contentType: Type.String(), url: Type.String() })

const summaryFields = {
  id: Type.String(),
  type: Type.String(),
  state: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('completed'), Type.Literal('failed'), Type.Literal('canceled')]),
  owner: Type.String(),
  progress: Nullable(ProgressSchema),
  result: Type.Unknown({ description: 'the result, on finished jobs only' }),
  error: Nullable(JobErrorSchema),
  files: Type.Array(Type.Object({ field: Type.String(), name: Type.String(), size: Type.Number(), mimeType: Type.String() })),
  artifacts: Type.Array(ArtifactSchema),
  attempt: Type.Integer(),
  maxAttempts: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Nullable(Type.String({ format: 'date-time' })),
  finishedAt: Nullable(Type.String({ format: 'date-time' })),
  runAt: Type.String({ format: 'date-time' }),
  batchId: Nullable(Type.String()),
  version: Type.Integer({ description: 'raised on every change: a view with a lower version is older' }),
  url: Type.String()
}

/** A job as lists, snapshots and events carry it: no input, the result only once finished. */
export const JobSummarySchema = Type.Object(summaryFields)

/** A job as `GET /api/jobs/:id` and a start's 202 carry it: the summary plus its input and preview. */
export const JobSchema = Type.Object({ ...summaryFields, input: Type.Unknown(), preview: Type.Unknown() })

/** A job as lists and events carry it. */
export type JobSummary = Static<typeof JobSummarySchema>
/** A job as clients see it in full. */
export type JobView = Static<typeof JobSchema>

const iso = (time: number | null): string | null => time === null ? null : new Date(time).toISOString()

/** Builds the client views of jobs; every URL carries the prefix jobcast is mounted under. */
export class JobViews {
  readonly #base: string

  /** `prefix`: where the API is mounted, '' or '/jobs' (no trailing slash). */
  constructor (prefix = '') {
    this.#base = `${prefix}/api`
  }

  /** The URL of a job. */
  jobUrl (id: string): string {
    return `${this.#base}/jobs/${id}`
  }

  /** The URL of a batch. */
  batchUrl (id: string): string {
    return `${this.#base}/batches/${id}`
  }

  /** The compact view: what lists, snapshots and events carry. */
  summary (job: JobRecord, artifacts: ArtifactRecord[] = []): JobSummary {
    const url = this.jobUrl(job.id)
    return {
      id: job.id,
      type: job.type,
      state: job.state,
      owner: job.owner,
      progress: job.progress,
      result: TERMINAL_STATES.has(job.state) ? job.result : null,
      error: job.error,
      files: job.files.map(({ field, name, size, mimeType }) => ({ field, name, size, mimeType })),
      artifacts: artifacts.map((a) => ({ name: a.name, size: a.size, contentType: a.contentType, url: `${url}/artifacts/${encodeURIComponent(a.name)}` })),
      attempt: job.attempt,
      maxAttempts: job.maxAttempts,
      createdAt: iso(job.createdAt)!,
      startedAt: iso(job.startedAt),
      finishedAt: iso(job.finishedAt),
      runAt: iso(job.runAt)!,
      batchId: job.batchId,
      version: job.version,
      url
    }
  }

  /** The full view: the summary plus input and preview. */
  full (job: JobRecord, artifacts: ArtifactRecord[] = []): JobView {
    return { ...this.summary(job, artifacts), input: job.input, preview: job.preview }
  }
}
