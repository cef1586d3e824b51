// Streaming, resumable, abortable CSV profile: reads the file in buffers, scans rows at byte
// level and feeds each cell to its column's running statistics.

import { open } from 'node:fs/promises'
import { checkCheckpoint, CHECKPOINT_VERSION, type ProfileCheckpoint } from './checkpoint.ts'
import { CsvError, CsvErrorCode } from './errors.ts'
import { finalizeColumns, type ColumnProfile } from './finalize.ts'
import { RowProcessor } from './row-processor.ts'
import { scanRange } from './range-scan.ts'
import { tableBytes } from './range-split.ts'
import { hllPrecisionFor, mgEntriesFor } from './value-counter.ts'
import type { CsvPreview } from './sniff.ts'

/** Progress reported after each chunk of rows. */
export interface ProfileProgress {
  /** Bytes of the file read and profiled so far. */
  bytesDone: number
  /** File size. */
  bytesTotal: number
  /** Data rows so far (well-formed and malformed). */
  rowsDone: number
  /** Estimated data rows in the whole file, from the average bytes per row so far. */
  rowsEstimate: number
  /**
   * State to resume from. Built on first access (it costs time and memory in proportion to the
   * statistics, up to a few MB per column below the distinct cap) and only readable while the
   * callback runs, including while its returned promise is pending.
   */
  readonly checkpoint: ProfileCheckpoint
}

/** Options of `profileCsv`. */
export interface ProfileOptions {
  /** Rows per chunk: progress (and a checkpoint) after each. Default 10,000. */
  chunkRows?: number
  /**
   * Distinct values per column counted exactly before estimating. Default `defaultDistinctCap`:
   * 100,000 up to 16 columns, less for wider files so that all columns stay within STATS_BUDGET_BYTES.
   */
  distinctCap?: number
  /** Size of the first read buffer in bytes (it grows for longer rows). Default 4 MiB. */
  bufferBytes?: number
  /** A row (an unclosed quote) longer than this, and than the buffer, is malformed. Default 64 MiB. */
  maxRowBytes?: number
  /**
   * The profile yields to the event loop (setImmediate) after this many milliseconds of work, so
   * timers, I/O and an `abort()` from a request handler get their turn. Default 10.
   */
  yieldEveryMs?: number
  /** Data rows kept for the sample. Default `defaultSampleRows`: 1,000, fewer for a wide file. */
  sampleRows?: number
  /** Stops the profile (within a chunk) by throwing the signal's reason. */
  signal?: AbortSignal
  /** Checkpoint from an earlier run's progress: profiling goes on from there. */
  resume?: ProfileCheckpoint
  /** Called after each chunk; the profile waits for a returned promise. */
  onChunk?: (p: ProfileProgress) => void | Promise<void>
}

/** Statistics of a whole CSV file. */
export interface CsvProfile {
  /** Delimiter used (from the preview). */
  delimiter: CsvPreview['delimiter']
  /** Encoding used (from the preview). */
  encoding: CsvPreview['encoding']
  /** Column names. */
  header: string[]
  /** Well-formed data rows (the header is not counted). */
  rows: number
  /** Number of columns. */
  columns: number
  /** File size in bytes. */
  bytes: number
  /** Rows with the wrong number of fields or broken quoting (left out of the statistics). */
  malformedRows: number
  /** Line numbers (1-based, header = line 1) where the first `MALFORMED_LINES` malformed rows start. */
  malformedLines: number[]
  /** Profiling time, summed over resumed runs. */
  durationMs: number
  /** Per-column statistics, in header order (empty when asked for as JSON, see `columnStatsJson`). */
  columnStats: ColumnProfile[]
  /**
   * The JSON text (UTF-8) of the per-column statistics' array in consecutive pieces, when `profileCsvParallel` was
   * asked for it (`columnsJson`).
   */
  columnStatsJson?: Uint8Array[]
  /** The first data rows, null for empty cells. */
  sample: Array<Array<string | null>>
}

/**
 * Memory the statistics of all columns of one range may take at their distinct caps. It bounds a profile whatever
 * the width: a 30,000-column file gets caps of a few dozen values (and small sketches past them) instead of 5,000.
 */
export const STATS_BUDGET_BYTES = 192 * 1024 * 1024

/** Default distinct cap for a file of `columns` columns (a column at the cap holds ~6 MB; all of them within STATS_BUDGET_BYTES). */
export function defaultDistinctCap (columns: number): number {
  let cap = columns <= 16 ? 100_000 : Math.max(5_000, Math.floor(1_600_000 / columns))
  if (columns <= 16) return cap
  while (cap > 16 && columns * columnBytes(cap, columns) > STATS_BUDGET_BYTES) cap = Math.floor(cap / 2)
  return cap
}

// Bytes one column's statistics take at most with distinct cap `cap`: its exact table at the cap, or past it the
// sketch and the Misra-Gries table, whichever is larger, and the object itself.
function columnBytes (cap: number, columns: number): number {
  return Math.max(tableBytes(cap), (1 << hllPrecisionFor(columns)) + tableBytes(mgEntriesFor(columns))) + 512
}

/** Cells of the sample, all rows together, by default: a wide file gets fewer rows (30,000 columns: 6 rows). */
export const SAMPLE_CELLS = 200_000

/** Default rows of the sample for a file of `columns` columns: 1,000, or fewer so that it holds at most SAMPLE_CELLS cells. */
export function defaultSampleRows (columns: number): number {
  return Math.max(1, Math.min(1000, Math.floor(SAMPLE_CELLS / Math.max(1, columns))))
}

/** Default first read buffer size. */
export const READ_BYTES = 1 << 22
/** Default longest row. */
export const MAX_ROW_BYTES = 1 << 26

/** Profiles the CSV file at `path` as sniffed in `preview`, streaming it in chunks of rows. */
export async function profileCsv (path: string, preview: CsvPreview, opts: ProfileOptions = {}): Promise<CsvProfile> {
  const started = performance.now()
  const chunkRows = Math.max(1, opts.chunkRows ?? 10_000)
  const distinctCap = opts.distinctCap ?? defaultDistinctCap(preview.header.length)
  const sampleRows = opts.sampleRows ?? defaultSampleRows(preview.header.length)
  const { signal, onChunk, resume } = opts
  signal?.throwIfAborted()
  const ncols = preview.header.length
  const encoding = preview.encoding
  const fh = await open(path, 'r')
  try {
    const size = (await fh.stat()).size
    let offset: number
    let elapsedBefore: number
    let proc: RowProcessor
    const procOptions = { delimiter: preview.delimiter, encoding, columns: ncols, distinctCap, sampleRows }
    if (resume !== undefined) {
      checkCheckpoint(resume, preview, size, distinctCap)
      offset = resume.offset
      elapsedBefore = resume.elapsedMs
      try {
        proc = new RowProcessor(procOptions, resume)
      } catch (err) {
        throw new CsvError(CsvErrorCode.BAD_CHECKPOINT, 'cannot resume from this checkpoint: its statistics are damaged', { cause: err })
      }
    } else {
      offset = encoding === 'utf-8-bom' ? 3 : 0
      elapsedBefore = 0
      proc = new RowProcessor(procOptions)
    }

    const report = async (at: number): Promise<void> => {
      if (onChunk === undefined) return
      const done = proc.rows + proc.malformedRows
      let live = true
      let cached: ProfileCheckpoint | undefined
      const progress: ProfileProgress = {
        bytesDone: at,
        bytesTotal: size,
        rowsDone: done,
        rowsEstimate: at > 0 ? Math.max(done, Math.round(done * size / at)) : done,
        get checkpoint (): ProfileCheckpoint {
          if (!live) throw new CsvError(CsvErrorCode.STALE_CHECKPOINT, 'a checkpoint can only be read while its progress callback runs')
          cached ??= {
            version: CHECKPOINT_VERSION,
            fileBytes: size,
            delimiter: preview.delimiter,
            encoding,
            header: [...preview.header],
            distinctCap,
            offset: at,
            elapsedMs: elapsedBefore + performance.now() - started,
            ...proc.toState()
          }
          return cached
        }
      }
      try {
        await onChunk(progress)
      } finally {
        live = false
      }
    }

    await scanRange(fh, proc, {
      start: offset,
      stopAt: size,
      size,
      bufferBytes: opts.bufferBytes ?? READ_BYTES,
      maxRowBytes: opts.maxRowBytes ?? MAX_ROW_BYTES,
      chunkRows,
      yieldEveryMs: opts.yieldEveryMs ?? 10,
      signal,
      onChunk: report
    })

    // The tables of a very wide file go at once (see RowProcessor.release), not at the caller's next collection.
    const columnStats = await finalizeColumns(preview.header, proc.cols, encoding, fh, () => { proc.release() })
    return {
      delimiter: preview.delimiter,
      encoding,
      header: [...preview.header],
      rows: proc.rows,
      columns: ncols,
      bytes: size,
      malformedRows: proc.malformedRows,
      malformedLines: proc.malformedLines,
      durationMs: elapsedBefore + performance.now() - started,
      columnStats,
      sample: proc.sample
    }
  } finally {
    await fh.close()
  }
}
