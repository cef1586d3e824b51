import { createReadStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Type } from 'typebox'
import { defineJob, type JobDefinition } from '../core/define-job.ts'
import { profileCsv, sniffCsv, writeProfileParquet, type CsvPreview, type ProfileCheckpoint } from '../csv/index.ts'
import { ClientError } from '../errors.ts'

const PARQUET = 'application/vnd.apache.parquet'
const count = new Intl.NumberFormat('en-US')

/** CSV import: preview at once, then per-column statistics in chunks, then Parquet files. */
export function csvProfileJob (options: {
  /** Largest upload, in bytes. */
  maxBytes: number
  /** Least time between two checkpoints, in ms (a checkpoint carries the partial statistics, so not every chunk). */
  checkpointEveryMs: number
}): JobDefinition {
  return defineJob({
    type: 'csv-profile',
    description: 'Profiles a CSV upload: delimiter, encoding and a preview at once; per-column statistics and Parquet files (summary, columns, sample) when done.',
    input: Type.Object({
      delimiter: Type.Optional(Type.Union([Type.Literal(','), Type.Literal(';'), Type.Literal('\t'), Type.Literal('|')], { description: 'Overrides the detected delimiter.' })),
      chunkRows: Type.Optional(Type.Integer({ minimum: 100, maximum: 1_000_000, default: 10_000, description: 'Rows per chunk: progress after each.' }))
    }, { additionalProperties: false }),
    files: { min: 1, max: 1, maxBytes: options.maxBytes, accept: ['.csv', '.tsv', '.txt', 'text/csv', 'text/tab-separated-values', 'text/plain'] },
    // Profiling is CPU-bound: two at once keep a small machine responsive.
    concurrency: 2,
    retry: { attempts: 3, backoff: 'exponential', baseMs: 1000, maxMs: 30_000 },
    async preview ({ input, files }) {
      const file = files[0]!
      // Reads only the head of the file; a binary file (an image renamed .csv…) is refused here, before queueing.
      const sniffed = await sniffCsv(file.path).catch((err: unknown) => {
        const code = (err as { code?: string }).code
        if (code === 'NOT_CSV' || code === 'EMPTY_FILE') throw new ClientError(422, code, `"${file.name}": ${(err as Error).message}`)
        throw err
      })
      return input.delimiter === undefined ? sniffed : { ...sniffed, delimiter: input.delimiter }
    },
    async run (ctx) {
      const file = ctx.files[0]!
      const preview = ctx.preview as CsvPreview
      const resume = (ctx.lastCheckpoint ?? undefined) as ProfileCheckpoint | undefined
      if (resume !== undefined) ctx.log.info({ offset: resume.offset }, 'resuming the profile from its checkpoint')
      let lastCheckpoint = Date.now()
      const profile = await profileCsv(file.path, preview, {
        chunkRows: ctx.input.chunkRows ?? 10_000,
        signal: ctx.signal,
        resume,
        onChunk: (p) => {
          ctx.progress({ current: p.bytesDone, total: p.bytesTotal, stage: 'profiling', message: `rows ${count.format(p.rowsDone)} of ~${count.format(p.rowsEstimate)}` })
          if (Date.now() - lastCheckpoint >= options.checkpointEveryMs) {
            void ctx.checkpoint(p.checkpoint)
            lastCheckpoint = Date.now()
          }
        }
      })
      ctx.progress({ stage: 'writing', message: 'writing Parquet files' })
      const workDir = join(dirname(dirname(file.path)), 'work')
      try {
        for (const output of await writeProfileParquet(workDir, profile)) {
          await ctx.artifact(output.name, createReadStream(output.path), { contentType: PARQUET })
        }
      } finally {
        await rm(workDir, { recursive: true, force: true })
      }
      ctx.progress({ stage: 'done', message: `${count.format(profile.rows)} rows, ${profile.columns} columns, ${count.format(profile.malformedRows)} malformed` })
      const { sample, columnStats, ...summary } = profile
      return { summary, columns: columnStats, resumedFromByte: resume?.offset ?? 0 }
    }
  }) as JobDefinition
}
