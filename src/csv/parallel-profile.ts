// Parallel profile: the file is split into byte ranges profiled at once on worker threads, and
// their statistics are merged in file order. Nothing CPU-bound runs on the calling thread.
//
// Range starts are guessed (the line after a split point) and verified, as DuckDB's parallel
// reader does: a range's rows are the true rows if the range before it, itself verified, ended
// exactly where this one started. Otherwise the guess fell inside a quoted field and the range is
// profiled again from where the range before it really ended.

import { open, stat } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { CsvError, CsvErrorCode, type CsvErrorCodeValue } from './errors.ts'
import type { ColumnProfile } from './finalize.ts'
import { checkParallelCheckpoint, PARALLEL_CHECKPOINT_VERSION, type ParallelCheckpoint, type RangeCheckpoint } from './parallel-checkpoint.ts'
import { defaultDistinctCap, MAX_ROW_BYTES, READ_BYTES, type CsvProfile } from './profile.ts'
import { CONTROL_ABORT, CONTROL_SNAPSHOT, type MergeTask, type RangeTask } from './worker-protocol.ts'
import type { RowProcessorOptions, RowProcessorState } from './row-processor.ts'
import type { CsvPreview } from './sniff.ts'
import { CsvWorkerPool, type WorkerMessage } from './worker-pool.ts'

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
  /** Files are not split into ranges smaller than this. Default 8 MiB. */
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
  /** Data rows kept for the sample. Default 1,000. */
  sampleRows?: number
  /** Stops the profile: every worker stops within 1,024 rows; rejects with the signal's reason. */
  signal?: AbortSignal
  /** Checkpoint of an earlier run: profiling goes on from there. */
  resume?: ParallelCheckpoint
  /** Called after each chunk of any range (not awaited). */
  onProgress?: (p: ParallelProgress) => void
  /** A checkpoint is taken every this many ms (when `onCheckpoint` is set). Default 2,000. */
  checkpointEveryMs?: number
  /** Told once all ranges are profiled: how many, and how many had to be profiled again from their true start. */
  onRanges?: (info: { ranges: number, reprofiled: number }) => void
  /** Receives each checkpoint (plain JSON); a rejection fails the profile. */
  onCheckpoint?: (cp: ParallelCheckpoint) => void | Promise<void>
}

let sharedPool: CsvWorkerPool | undefined

/** The process-wide pool used when no `pool` is given (`os.availableParallelism()` workers). */
export function defaultCsvWorkerPool (): CsvWorkerPool {
  sharedPool ??= new CsvWorkerPool({ size: availableParallelism() })
  return sharedPool
}

/** Bytes of one column's exact table at `cap` entries (16-byte slots at most half full, plus 16 bytes per entry). */
function tableBytes (cap: number): number {
  let c = 256
  while (c < cap * 2) c *= 2
  return c * 24
}

interface Range extends RangeCheckpoint {
  /** Progress position while running. */
  at: number
  rows: number
  control: Int32Array | null
}

/** Start of the first row at or after `at` if `at` is not inside a quoted field: the byte after the first LF at or after `at - 1`. */
async function lineStartAfter (path: string, at: number, size: number): Promise<number> {
  const fh = await open(path, 'r')
  try {
    const buf = Buffer.allocUnsafe(1 << 16)
    for (let pos = at - 1; pos < size; pos += buf.length) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos)
      const i = buf.subarray(0, bytesRead).indexOf(0x0a)
      if (i >= 0) return pos + i + 1
      if (bytesRead === 0) break
    }
    return size
  } finally {
    await fh.close()
  }
}

/** Profiles the CSV file at `path` on worker threads, in byte ranges merged exactly (see the file comment). */
export async function profileCsvParallel (path: string, preview: CsvPreview, opts: ParallelProfileOptions = {}): Promise<CsvProfile> {
  const started = performance.now()
  const { signal, resume, onProgress, onCheckpoint } = opts
  signal?.throwIfAborted()
  const pool = opts.pool ?? defaultCsvWorkerPool()
  const ncols = preview.header.length
  const distinctCap = opts.distinctCap ?? defaultDistinctCap(ncols)
  const size = (await stat(path)).size
  const dataStart = preview.encoding === 'utf-8-bom' ? 3 : 0
  const budget = opts.tableBudgetBytes ?? 256 * 1024 * 1024
  const concurrency = Math.max(1, Math.min(opts.workers ?? pool.size, Math.floor(budget / (ncols * tableBytes(distinctCap)))))
  const options: RowProcessorOptions = { delimiter: preview.delimiter, encoding: preview.encoding, columns: ncols, distinctCap, sampleRows: opts.sampleRows ?? 1000 }

  let ranges: Range[]
  let elapsedBefore = 0
  if (resume !== undefined) {
    checkParallelCheckpoint(resume, preview, size, distinctCap)
    elapsedBefore = resume.elapsedMs
    ranges = resume.ranges.map((r) => ({ ...r, at: r.offset, rows: 0, control: null }))
  } else {
    const n = Math.max(1, Math.min(concurrency, Math.ceil((size - dataStart) / (opts.minRangeBytes ?? 8 * 1024 * 1024))))
    const starts = [dataStart]
    for (let k = 1; k < n; k++) {
      const s = await lineStartAfter(path, dataStart + Math.floor(k * (size - dataStart) / n), size)
      if (s > starts.at(-1)!) starts.push(s)
    }
    ranges = starts.map((start, k) => ({ start, stopAt: starts[k + 1] ?? size, header: k === 0, offset: start, done: false, state: null, at: start, rows: 0, control: null }))
  }

  let failure: unknown
  const stopAll = (): void => { for (const r of ranges) if (r.control !== null) Atomics.or(r.control, 0, CONTROL_ABORT) }
  const onAbort = (): void => { stopAll() }
  signal?.addEventListener('abort', onAbort, { once: true })

  // Checkpoints: every running range is asked for a snapshot; once all have answered, the ranges'
  // latest states make the checkpoint.
  let waiting: Set<Range> | null = null
  const checkpoint = (): ParallelCheckpoint => ({
    version: PARALLEL_CHECKPOINT_VERSION,
    kind: 'parallel',
    fileBytes: size,
    delimiter: preview.delimiter,
    encoding: preview.encoding,
    header: [...preview.header],
    distinctCap,
    elapsedMs: elapsedBefore + performance.now() - started,
    ranges: ranges.map(({ start, stopAt, header, offset, done, state }) => ({ start, stopAt, header, offset, done, state }))
  })
  const answered = (r: Range): void => {
    if (waiting === null || !waiting.delete(r) || waiting.size > 0) return
    waiting = null
    Promise.resolve(onCheckpoint!(checkpoint())).catch((err: unknown) => { failure ??= err; stopAll() })
  }
  const timer = onCheckpoint === undefined
    ? undefined
    : setInterval(() => {
      if (waiting !== null) return
      waiting = new Set(ranges.filter((r) => r.control !== null))
      for (const r of waiting) Atomics.or(r.control!, 0, CONTROL_SNAPSHOT)
      if (waiting.size === 0) { waiting = new Set([ranges[0]!]); answered(ranges[0]!) }
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

  const runRange = async (r: Range): Promise<void> => {
    const control = new SharedArrayBuffer(4)
    const task: RangeTask = {
      kind: 'range',
      path,
      size,
      options: { ...options, header: r.header, line: r.header && r.start === dataStart ? 1 : 0 },
      offset: r.offset,
      state: r.state,
      stopAt: r.stopAt,
      chunkRows: Math.max(1, opts.chunkRows ?? 10_000),
      bufferBytes: opts.bufferBytes ?? READ_BYTES,
      maxRowBytes: opts.maxRowBytes ?? MAX_ROW_BYTES,
      control
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
          r.state = m.state as RowProcessorState
          answered(r)
        }
      })
      r.offset = r.at = done.end as number
      r.state = done.state as RowProcessorState
      r.rows = r.state.rows + r.state.malformedRows
      r.done = true
    } finally {
      r.control = null
      answered(r)
    }
  }

  // Runs `list` with at most `concurrency` at once; the first failure stops the others.
  const runAll = async (list: Range[]): Promise<void> => {
    const queue = [...list]
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      while (queue.length > 0 && failure === undefined && signal?.aborted !== true) {
        await runRange(queue.shift()!).catch((err: unknown) => { failure ??= err; stopAll() })
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
      const headerPending = prev.state!.headerPending === true
      if (prev.offset === r.start && !headerPending) continue
      // The guessed start was inside a quoted field (or the header is still to come): again from the true end.
      Object.assign(r, { start: prev.offset, header: headerPending, offset: prev.offset, done: false, state: null, at: prev.offset, rows: 0 })
      reprofiled++
      await runAll([r])
    }
    opts.onRanges?.({ ranges: ranges.length, reprofiled })
    const merge: MergeTask = {
      kind: 'merge',
      path,
      options,
      header: [...preview.header],
      states: ranges.map((r) => r.state!)
    }
    const merged = await pool.run(merge)
    signal?.throwIfAborted()
    const rows = merged.rows as number
    const malformedRows = merged.malformedRows as number
    if (onProgress !== undefined) onProgress({ bytesDone: size, bytesTotal: size, rowsDone: rows + malformedRows, rowsEstimate: rows + malformedRows })
    return {
      delimiter: preview.delimiter,
      encoding: preview.encoding,
      header: [...preview.header],
      rows,
      columns: ncols,
      bytes: size,
      malformedRows,
      malformedLines: merged.malformedLines as number[],
      durationMs: elapsedBefore + performance.now() - started,
      columnStats: merged.columnStats as ColumnProfile[],
      sample: merged.sample as Array<Array<string | null>>
    }
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'ABORTED' && signal?.aborted === true) throw signal.reason
    if (code !== undefined && code in CsvErrorCode) throw new CsvError(code as CsvErrorCodeValue, (err as Error).message, { cause: err })
    throw err
  } finally {
    clearInterval(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}
