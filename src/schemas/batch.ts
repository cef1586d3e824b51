import { Type, type Static } from 'typebox'
import type { BatchCounts, BatchRecord } from '../core/batch-model.ts'
import { JobSummarySchema, type JobSummary } from './job.ts'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])

const summaryFields = {
  id: Type.String(),
  type: Type.String(),
  total: Type.Integer(),
  queued: Type.Integer(),
  running: Type.Integer(),
  completed: Type.Integer(),
  failed: Type.Integer(),
  canceled: Type.Integer(),
  percent: Type.Number({ description: 'finished children, in percent of all' }),
  done: Type.Boolean({ description: 'every child finished' }),
  succeeded: Type.Boolean({ description: 'every child completed' }),
  createdAt: Type.String({ format: 'date-time' }),
  finishedAt: Nullable(Type.String({ format: 'date-time' })),
  url: Type.String()
}

/** A batch as lists, snapshots and `batch` events carry it: the aggregate of its children. */
export const BatchSummarySchema = Type.Object(summaryFields)

/** A batch in full: the aggregate, every child, and the type's batch-level result (documents: CFDI duplicates and totals). */
export const BatchSchema = Type.Object({
  ...summaryFields,
  jobs: Type.Array(JobSummarySchema),
  result: Type.Unknown({ description: 'what the children add up to, by type (null when the type has none)' })
})

/** A batch's aggregate view. */
export type BatchSummary = Static<typeof BatchSummarySchema>
/** A batch in full. */
export type BatchView = Static<typeof BatchSchema>

/** The aggregate view of a batch from its counts. */
export function batchSummary (batch: BatchRecord, counts: BatchCounts, url: string): BatchSummary {
  const finished = counts.completed + counts.failed + counts.canceled
  const done = counts.queued + counts.running === 0
  return {
    id: batch.id,
    type: batch.type,
    total: batch.total,
    ...counts,
    percent: batch.total === 0 ? 100 : Math.round((finished / batch.total) * 1000) / 10,
    done,
    succeeded: done && counts.completed === batch.total,
    createdAt: new Date(batch.createdAt).toISOString(),
    finishedAt: batch.finishedAt === null ? null : new Date(batch.finishedAt).toISOString(),
    url
  }
}

/** The full view: the aggregate, the children in file order, and the batch result. */
export function batchView (summary: BatchSummary, jobs: JobSummary[], result: unknown): BatchView {
  return { ...summary, jobs, result }
}
