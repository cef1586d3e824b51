import { Type, type Static } from 'typebox'
import type { ArtifactRecord, JobRecord } from '../adapters/sqlite/types.ts'

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

/** A job as clients see it. */
export const JobSchema = Type.Object({
  id: Type.String(),
  type: Type.String(),
  state: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('completed'), Type.Literal('failed'), Type.Literal('canceled')]),
  owner: Type.String(),
  input: Type.Unknown(),
  progress: Nullable(ProgressSchema),
  result: Type.Unknown(),
  error: Nullable(JobErrorSchema),
  preview: Type.Unknown(),
  files: Type.Array(Type.Object({ field: Type.String(), name: Type.String(), size: Type.Number(), mimeType: Type.String() })),
  artifacts: Type.Array(Type.Object({ name: Type.String(), size: Type.Number(), contentType: Type.String(), url: Type.String() })),
  attempt: Type.Integer(),
  maxAttempts: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  startedAt: Nullable(Type.String({ format: 'date-time' })),
  finishedAt: Nullable(Type.String({ format: 'date-time' })),
  runAt: Type.String({ format: 'date-time' }),
  batchId: Nullable(Type.String()),
  url: Type.String()
})

/** A job as clients see it. */
export type JobView = Static<typeof JobSchema>

const iso = (time: number | null): string | null => time === null ? null : new Date(time).toISOString()

/** The client view of a job record: ISO times, no internals, links to itself and its artifacts. */
export function toJobView (job: JobRecord, artifacts: ArtifactRecord[] = []): JobView {
  const url = `/api/jobs/${job.id}`
  return {
    id: job.id,
    type: job.type,
    state: job.state,
    owner: job.owner,
    input: job.input,
    progress: job.progress,
    result: job.result,
    error: job.error,
    preview: job.preview,
    files: job.files.map(({ field, name, size, mimeType }) => ({ field, name, size, mimeType })),
    artifacts: artifacts.map((a) => ({ name: a.name, size: a.size, contentType: a.contentType, url: `${url}/artifacts/${encodeURIComponent(a.name)}` })),
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    createdAt: iso(job.createdAt)!,
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    runAt: iso(job.runAt)!,
    batchId: job.batchId,
    url
  }
}
