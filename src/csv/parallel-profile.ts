// Parallel profile: the file is split into byte ranges profiled at once on worker threads, and
// their statistics are merged in file order. Nothing CPU-bound runs on the calling thread: the
// statistics travel between threads as transferred JSON bytes (or files), never parsed here.
//
// Range starts are guessed (the line after a split point) and verified, as DuckDB's parallel
// reader does: a range's rows are the true rows if the range before it, itself verified, ended
// exactly where this one started. Otherwise the guess fell inside a quoted field and the range is
// profiled again from where the range before it really ended.

import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CsvError, CsvErrorCode, type CsvErrorCodeValue } from './errors.ts'
import { checkParallelCheckpoint, PARALLEL_CHECKPOINT_VERSION, type ParallelCheckpoint, type RangeCheckpoint } from './parallel-checkpoint.ts'
import { defaultDistinctCap, defaultSampleRows, MAX_ROW_BYTES, READ_BYTES, type CsvProfile } from './profile.ts'
import { guessRangeStarts, tableBytes } from './range-split.ts'
import type { RowProcessorOptions, RowProcessorState } from './row-processor.ts'
import type { ParquetOutput } from './parquet.ts'
import type { CsvPreview } from './sniff.ts'
import { defaultCsvWorkerPool, type CsvWorkerPool, type WorkerMessage } from './worker-pool.ts'
import { CONTROL_ABORT, CONTROL_SNAPSHOT, type MergedProfile, type MergeTask, type ParquetRequest, type RangeTask, type StateRef } from './worker-protocol.ts'

/** Progress of a parallel profile. */
export interface ParallelProgress {
  /** Bytes of the file profiled so far (all ranges). */
  bytesDone: number
  /** File size. */
  bytesTotal: number
  /** Data rows so far (well-formed and malformed). */
  rowsDone: number
  /** Estimated data rows in the whole file, from the average bytes per row so far. */
  rowsEstimate: number
}

/** Options of `profileCsvParallel`. */
export interface ParallelProfileOptions {
  /** Worker threads to run on. Default: a pool shared by the process, `os.availableParallelism()` workers. */
  pool?: CsvWorkerPool
  /** Ranges profiled at once (and ranges the file is split into). Default: the pool's size. */
  workers?: number
  /**
   * Files are not split into ranges smaller than this. Default 128 MiB: each range pays a fixed
   * cost (JIT warm-up, filling its own exact tables up to the cap for high-cardinality columns),
   * which on a 2-core machine outweighs a second range below ~100 MB (docs/BENCHMARKS.md).
   */
  minRangeBytes?: number
  /**
   * Memory for the exact distinct tables of all ranges profiled at once: fewer ranges run at once
   * when every column at the cap in every range would not fit. Default 256 MiB.
   */
  tableBudgetBytes?: number
  /** Rows per chunk of a range: progress after each. Default 10,000. */
  chunkRows?: number
  /** Distinct values per column counted exactly before estimating. Default `defaultDistinctCap`. */
  distinctCap?: number
  /** First read buffer of each range in bytes. Default 4 MiB. */
  bufferBytes?: number
  /** A row (an unclosed quote) longer than this is malformed. Default 64 MiB. */
  maxRowBytes?: number
  /** Data rows kept for the sample. Default `defaultSampleRows`: 1,000, fewer for a wide file. */
  sampleRows?: number
  /** Stops the profile: every worker stops within 1,024 rows; rejects with the signal's reason. */
  signal?: AbortSignal
  /** Checkpoint of an earlier run: profiling goes on from there (with the same `stateDir`). */
  resume?: ParallelCheckpoint
  /** Called after each chunk of any range (not awaited). */
  onProgress?: (p: ParallelProgress) => void
  /** A checkpoint is taken every this many ms (when `onCheckpoint` is set). Default 2,000. */
  checkpointEveryMs?: number
  /**
   * Receives each checkpoint (plain JSON); a rejection fails the profile. Without `stateDir` the
   * checkpoint holds the statistics, parsed on this thread (up to a few MB per column).
   */
  onCheckpoint?: (cp: ParallelCheckpoint) => void | Promise<void>
  /**
   * Folder (existing) where the workers write the statistics of each checkpoint, fsynced before
   * the checkpoint names them: the checkpoint itself stays small and this thread never touches
   * the statistics. The files of the two latest checkpoints are kept.
   */
  stateDir?: string
  /**
   * Parquet outputs (`writeProfileParquet`) written by the worker that finalizes the profile, into `dir`, before the
   * profile is sent back: a wide profile is not cloned again to a Parquet task. `written` gets the files.
   */
  parquet?: { dir: string, written: (files: ParquetOutput[]) => void }
  /**
   * The column profiles come back as the JSON text of the `columnStats` array (`CsvProfile.columnStatsJson`, UTF-8) and
   * `columnStats` is empty: a very wide profile is never thousands of objects on this thread. Default false.
   */
  columnsJson?: boolean
  /** Told once all ranges are profiled: how many, and how many had to be profiled again from their true start. */
  onRanges?: (info: { ranges: number, reprofiled: number }) => void
}

interface Range {
  start: number
  stopAt: number
  header: boolean
  offset: number
  done: boolean
  /** Statistics at `offset`. */
  ref: StateRef | null
  /** The header row was still to come at the range's end (it held blank lines only). */
  headerPending: boolean
  /** Progress position and rows while running. */
  at: number
  rows: number
  control: Int32Array | null
}

const decoder = new TextDecoder()

function toCheckpointRange (r: Range): RangeCheckpoint {
  const { start, stopAt, header, offset, done, ref, headerPending } = r
  const base = { start, stopAt, header, offset, done, headerPending }
  if (ref === null) return { ...base, state: null }
  if ('file' in ref) return { ...base, state: null, stateFile: ref.file }
  if ('json' in ref) return { ...base, state: ref.json }
  return { ...base, state: JSON.parse(decoder.decode(ref.bytes)) as RowProcessorState }
}

function filesOf (cp: ParallelCheckpoint | undefined): Set<string> {
  return new Set((cp?.ranges ?? []).flatMap((r) => r.stateFile === undefined ? [] : [r.stateFile]))
}

/** Profiles the CSV file at `path` on worker threads, in byte ranges merged exactly (see the file comment). */
export async function profileCsvParallel (path: string, preview: CsvPreview, opts: ParallelProfileOptions = {}): Promise<CsvProfile> {
  const started = performance.now()
  const { signal, resume, onProgress, onCheckpoint } = opts
  signal?.throwIfAborted()
  const pool = opts.pool ?? defaultCsvWorkerPool()
  const stateDir = opts.stateDir ?? null
  const ncols = preview.header.length
  const distinctCap = opts.distinctCap ?? defaultDistinctCap(ncols)
  const size = (await stat(path)).size
  const dataStart = preview.encoding === 'utf-8-bom' ? 3 : 0
  const budget = opts.tableBudgetBytes ?? 256 * 1024 * 1024
  const concurrency = Math.max(1, Math.min(opts.workers ?? pool.size, Math.floor(budget / (ncols * tableBytes(distinctCap)))))
  const options: RowProcessorOptions = { delimiter: preview.delimiter, encoding: preview.encoding, columns: ncols, distinctCap, sampleRows: opts.sampleRows ?? defaultSampleRows(ncols) }

  let ranges: Range[]
  let elapsedBefore = 0
  const parquetRequest = (): ParquetRequest | undefined => opts.parquet === undefined
    ? undefined
    : { outDir: opts.parquet.dir, base: { delimiter: preview.delimiter, encoding: preview.encoding, header: [...preview.header], columns: ncols, bytes: size }, elapsedBefore, startedAt: performance.timeOrigin + started }
  if (resume !== undefined) {
    checkParallelCheckpoint(resume, preview, size, distinctCap)
    if (stateDir === null && resume.ranges.some((r) => r.stateFile !== undefined)) {
      throw new CsvError(CsvErrorCode.BAD_CHECKPOINT, 'cannot resume from this checkpoint: its statistics are in a state folder and no stateDir was given')
    }
    elapsedBefore = resume.elapsedMs
    ranges = resume.ranges.map((r) => ({
      start: r.start,
      stopAt: r.stopAt,
      header: r.header,
      offset: r.offset,
      done: r.done,
      ref: r.stateFile !== undefined ? { file: r.stateFile } : r.state !== null ? { json: r.state } : null,
      headerPending: r.headerPending === true,
      at: r.offset,
      rows: r.state === null ? 0 : r.state.rows + r.state.malformedRows,
      control: null
    }))
  } else {
    const n = Math.max(1, Math.min(concurrency, Math.ceil((size - dataStart) / (opts.minRangeBytes ?? 128 * 1024 * 1024))))
    const starts = await guessRangeStarts(path, dataStart, size, n)
    ranges = starts.map((start, k) => ({ start, stopAt: starts[k + 1] ?? size, header: k === 0, offset: start, done: false, ref: null, headerPending: false, at: start, rows: 0, control: null }))
  }

  let failure: unknown
  const stopAll = (): void => { for (const r of ranges) if (r.control !== null) Atomics.or(r.control, 0, CONTROL_ABORT) }
  signal?.addEventListener('abort', stopAll, { once: true })

  // Checkpoints: every running range is asked for a snapshot; once all have answered, the ranges'
  // latest states make the checkpoint.
  let waiting: Set<Range> | null = null
  let round = 0
  const committed: Array<Set<string>> = [filesOf(resume)]
  const emit = (): void => {
    const cp: ParallelCheckpoint = {
      version: PARALLEL_CHECKPOINT_VERSION,
      kind: 'parallel',
      fileBytes: size,
      delimiter: preview.delimiter,
      encoding: preview.encoding,
      header: [...preview.header],
      distinctCap,
      elapsedMs: elapsedBefore + performance.now() - started,
      ranges: ranges.map(toCheckpointRange)
    }
    Promise.resolve(onCheckpoint!(cp)).then(async () => {
      // Files named by neither of the two latest checkpoints are no longer needed.
      committed.push(filesOf(cp))
      const old = committed.length > 2 ? committed.shift()! : new Set<string>()
      for (const f of old) if (!committed.some((c) => c.has(f))) await rm(join(stateDir!, f), { force: true })
    }).catch((err: unknown) => { failure ??= err; stopAll() })
  }
  const answered = (r: Range): void => {
    if (waiting === null || !waiting.delete(r) || waiting.size > 0) return
    waiting = null
    emit()
  }
  const timer = onCheckpoint === undefined
    ? undefined
    : setInterval(() => {
      if (waiting !== null) return
      // Round numbers name the snapshot files: from the clock, so a resumed run never reuses one.
      round = Math.max(round + 1, Date.now())
      waiting = new Set(ranges.filter((r) => r.control !== null))
      for (const r of waiting) {
        Atomics.store(r.control!, 1, round % 2 ** 31)
        Atomics.or(r.control!, 0, CONTROL_SNAPSHOT)
      }
      if (waiting.size === 0) { waiting = null; emit() }
    }, opts.checkpointEveryMs ?? 2000)

  let reported = dataStart
  const progress = (): void => {
    if (onProgress === undefined) return
    let bytes = dataStart
    let rows = 0
    for (const r of ranges) {
      bytes += r.at - r.start
      rows += r.rows
    }
    reported = Math.min(size, Math.max(reported, bytes))
    const frac = (reported - dataStart) / Math.max(1, size - dataStart)
    onProgress({ bytesDone: reported, bytesTotal: size, rowsDone: rows, rowsEstimate: frac > 0 ? Math.max(rows, Math.round(rows / frac)) : rows })
  }

  const runRange = async (r: Range, index: number): Promise<void> => {
    const control = new SharedArrayBuffer(8)
    const task: RangeTask = {
      kind: 'range',
      path,
      size,
      options: { ...options, header: r.header, line: r.header && r.start === dataStart ? 1 : 0 },
      index,
      offset: r.offset,
      state: r.ref,
      stopAt: r.stopAt,
      chunkRows: Math.max(1, opts.chunkRows ?? 10_000),
      bufferBytes: opts.bufferBytes ?? READ_BYTES,
      maxRowBytes: opts.maxRowBytes ?? MAX_ROW_BYTES,
      stateDir,
      control,
      finalize: ranges.length === 1 ? { header: [...preview.header], parquet: parquetRequest(), columnsJson: opts.columnsJson } : undefined
    }
    r.control = new Int32Array(control)
    if (failure !== undefined || signal?.aborted === true) Atomics.or(r.control, 0, CONTROL_ABORT)
    try {
      const done = await pool.run(task, (m: WorkerMessage) => {
        if (m.kind === 'progress') {
          r.at = m.at as number
          r.rows = m.rows as number
          progress()
        } else if (m.kind === 'snapshot') {
          r.offset = m.at as number
          r.ref = m.file !== undefined ? { file: m.file as string } : { bytes: m.bytes as Uint8Array }
          answered(r)
        }
      })
      if (done.profile !== undefined) {
        // The only range, finalized: no more checkpoints (its statistics stay in the worker).
        only = done.profile as MergedProfile
        if (done.files !== undefined) opts.parquet?.written(done.files as ParquetOutput[])
        clearInterval(timer)
        waiting = null
      }
      r.offset = r.at = done.end as number
      r.rows = done.rows as number
      r.headerPending = done.headerPending as boolean
      // Kept as bytes for the merge; a checkpoint names the file if there is one.
      if (only === undefined) r.ref = done.file !== undefined && onCheckpoint !== undefined ? { file: done.file as string } : { bytes: done.bytes as Uint8Array }
      r.done = true
    } finally {
      r.control = null
      answered(r)
    }
  }

  let only: MergedProfile | undefined
  // Runs `list` with at most `concurrency` at once; the first failure stops the others.
  const runAll = async (list: Range[]): Promise<void> => {
    const queue = [...list]
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      while (queue.length > 0 && failure === undefined && signal?.aborted !== true) {
        const r = queue.shift()!
        await runRange(r, ranges.indexOf(r)).catch((err: unknown) => { failure ??= err; stopAll() })
      }
    }))
    if (signal?.aborted === true) throw signal.reason
    if (failure !== undefined) throw failure
  }

  try {
    await runAll(ranges.filter((r) => !r.done))
    let reprofiled = 0
    for (let k = 1; k < ranges.length; k++) {
      const prev = ranges[k - 1]!
      const r = ranges[k]!
      if (prev.offset === r.start && !prev.headerPending) continue
      // The guessed start was inside a quoted field (or the header is still to come): again from the true end.
      Object.assign(r, { start: prev.offset, header: prev.headerPending, offset: prev.offset, done: false, ref: null, headerPending: false, at: prev.offset, rows: 0 })
      reprofiled++
      await runAll([r])
    }
    opts.onRanges?.({ ranges: ranges.length, reprofiled })
    clearInterval(timer)
    let merged = only
    if (merged === undefined) {
      const states = ranges.map((r) => r.ref!)
      const merge: MergeTask = { kind: 'merge', path, options, header: [...preview.header], stateDir, states, parquet: parquetRequest(), columnsJson: opts.columnsJson }
      const done = await pool.run(merge, undefined, states.flatMap((s) => 'bytes' in s ? [s.bytes.buffer as ArrayBuffer] : []))
      merged = done.profile as MergedProfile
      if (done.files !== undefined) opts.parquet?.written(done.files as ParquetOutput[])
    }
    signal?.throwIfAborted()
    const { rows, malformedRows } = merged
    onProgress?.({ bytesDone: size, bytesTotal: size, rowsDone: rows + malformedRows, rowsEstimate: rows + malformedRows })
    return {
      delimiter: preview.delimiter,
      encoding: preview.encoding,
      header: [...preview.header],
      rows,
      columns: ncols,
      bytes: size,
      malformedRows,
      malformedLines: merged.malformedLines,
      durationMs: elapsedBefore + performance.now() - started,
      columnStats: merged.columnStats,
      ...(merged.columnsJson !== undefined ? { columnStatsJson: merged.columnsJson } : {}),
      sample: merged.sample
    }
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'ABORTED' && signal?.aborted === true) throw signal.reason
    if (code !== undefined && code in CsvErrorCode) throw new CsvError(code as CsvErrorCodeValue, (err as Error).message, { cause: err })
    throw err
  } finally {
    clearInterval(timer)
    signal?.removeEventListener('abort', stopAll)
  }
}
