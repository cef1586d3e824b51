import { createReadStream } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { Type } from 'typebox'
import { defineJob, type JobDefinition } from '../core/define-job.ts'
import { checkpointBytes, CsvWorkerPool, profileCsvParallel, sniffCsv, writeProfileParquetOn, type CsvPreview, type ParallelCheckpoint, type ParquetOutput } from '../csv/index.ts'
import { JsonText } from '../core/bounded-result.ts'
import { ClientError } from '../errors.ts'

const PARQUET = 'application/vnd.apache.parquet'
const count = new Intl.NumberFormat('en-US')

/** CSV import: preview at once, then per-column statistics in chunks, then Parquet files. */
export function csvProfileJob (options: {
  /** Largest upload, in bytes. */
  maxBytes: number
  /** Least time between two checkpoints, in ms (a checkpoint carries the partial statistics, so not every chunk). */
  checkpointEveryMs: number
  /** Worker threads profiling byte ranges of a file at once, shared by all CSV jobs. Default `os.availableParallelism()`. */
  workers?: number
  /**
   * Nice value of those threads. Default 10: when the cores are busy the event loop (requests,
   * SSE) gets the CPU before profiling does; on an idle machine the profile is as fast.
   */
  workerNice?: number
}): JobDefinition {
  // Profiling runs on these threads only, never on the event loop that serves HTTP and SSE.
  const pool = new CsvWorkerPool({ size: options.workers ?? availableParallelism(), nice: options.workerNice ?? 10 })
  return defineJob({
    type: 'csv-profile',
    description: 'Profiles a CSV upload: delimiter, encoding and a preview at once; per-column statistics and Parquet files (summary, columns, sample) when done.',
    input: Type.Object({
      delimiter: Type.Optional(Type.Union([Type.Literal(','), Type.Literal(';'), Type.Literal('\t'), Type.Literal('|')], { description: 'Overrides the detected delimiter.' })),
      chunkRows: Type.Optional(Type.Integer({ minimum: 100, maximum: 1_000_000, default: 10_000, description: 'Rows per chunk: progress after each.' }))
    }, { additionalProperties: false }),
    files: { min: 1, max: 1, maxBytes: options.maxBytes, accept: ['.csv', '.tsv', '.txt', 'text/csv', 'text/tab-separated-values', 'text/plain'] },
    // Two files at once share the pool's workers (the CPU used stays bounded by the pool).
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
      let resume = (ctx.lastCheckpoint ?? undefined) as ParallelCheckpoint | undefined
      if (resume !== undefined && resume.kind !== 'parallel') {
        // A checkpoint of the earlier single-threaded engine: its statistics cannot be split into ranges.
        ctx.log.warn('the checkpoint is from an older version: profiling from the start')
        resume = undefined
      }
      const resumedFromByte = resume === undefined ? 0 : checkpointBytes(resume)
      if (resume !== undefined) ctx.log.info({ resumedFromByte }, 'resuming the profile from its checkpoint')
      // The workers write each checkpoint's statistics here (fsynced), so the stored checkpoint
      // stays small and the event loop never serializes them.
      const stateDir = join(dirname(dirname(file.path)), 'profile-state')
      await mkdir(stateDir, { recursive: true })
      const workDir = join(dirname(dirname(file.path)), 'work')
      // The worker that finalizes the profile writes the Parquet files: a wide profile is not cloned to another task.
      let outputs: ParquetOutput[] | undefined
      const profile = await profileCsvParallel(file.path, preview, {
        pool,
        stateDir,
        chunkRows: ctx.input.chunkRows ?? 10_000,
        signal: ctx.signal,
        resume,
        onProgress: (p) => {
          ctx.progress({ current: p.bytesDone, total: p.bytesTotal, stage: 'profiling', message: `rows ${count.format(p.rowsDone)} of ~${count.format(p.rowsEstimate)}` })
        },
        checkpointEveryMs: Math.max(1, options.checkpointEveryMs),
        onCheckpoint: (cp) => { void ctx.checkpoint(cp) },
        parquet: { dir: workDir, written: (files) => { outputs = files } },
        // The columns come back as their JSON and go into the result as it is: never 30,000 objects on the event loop.
        columnsJson: true
      }).catch(async (err: unknown) => {
        await rm(workDir, { recursive: true, force: true })
        throw err
      })
      await rm(stateDir, { recursive: true, force: true })
      ctx.progress({ stage: 'writing', message: 'writing Parquet files' })
      try {
        // The worker wrote them; if it did not, they are written from the profile, its columns parsed back.
        const whole = (): typeof profile => profile.columnStatsJson === undefined ? profile : { ...profile, columnStats: JSON.parse(Buffer.concat(profile.columnStatsJson).toString('utf8')) as typeof profile.columnStats }
        for (const output of outputs ?? await writeProfileParquetOn(pool, workDir, whole())) {
          await ctx.artifact(output.name, createReadStream(output.path), { contentType: PARQUET })
        }
      } finally {
        await rm(workDir, { recursive: true, force: true })
      }
      ctx.progress({ stage: 'done', message: `${count.format(profile.rows)} rows, ${profile.columns} columns, ${count.format(profile.malformedRows)} malformed` })
      const { sample, columnStats, columnStatsJson, ...summary } = profile
      if (columnStatsJson === undefined) return { summary, columns: columnStats, resumedFromByte }
      // The same text as JSON.stringify({ summary, columns, resumedFromByte }).
      const head = Buffer.from(`${JSON.stringify({ summary }).slice(0, -1)},"columns":`)
      const tail = Buffer.from(`,"resumedFromByte":${JSON.stringify(resumedFromByte)}}`)
      return new JsonText([head, ...columnStatsJson, tail])
    }
  }) as JobDefinition
}
