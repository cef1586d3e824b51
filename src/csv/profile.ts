// Streaming, resumable, abortable CSV profile: reads the file in buffers, scans rows at byte
// level and feeds each cell to its column's running statistics.

import { open } from 'node:fs/promises'
import { checkCheckpoint, CHECKPOINT_VERSION, type ProfileCheckpoint } from './checkpoint.ts'
import { ColumnStats } from './column-stats.ts'
import { CsvError, CsvErrorCode } from './errors.ts'
import { finalizeColumn, type ColumnProfile } from './finalize.ts'
import { FIELD_ESCAPED, FIELD_PLAIN, ROW_OK, RowScanner, skipLine, unescapeInto } from './scanner.ts'
import type { CsvPreview } from './sniff.ts'
import { decodeCell } from './text.ts'

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
   * 100,000 up to 16 columns, less for wider files so exact counting stays within ~100 MB.
   */
  distinctCap?: number
  /** Size of the first read buffer in bytes (it grows for longer rows). Default 4 MiB. */
  bufferBytes?: number
  /** A row (an unclosed quote) longer than this, and than the buffer, is malformed. Default 64 MiB. */
  maxRowBytes?: number
  /** Data rows kept for the sample. Default 1,000. */
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
  delimiter: CsvPreview['delimiter']
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
  /** Per-column statistics, in header order. */
  columnStats: ColumnProfile[]
  /** The first data rows, null for empty cells. */
  sample: Array<Array<string | null>>
}

/** Default distinct cap for a file of `columns` columns (a column at the cap holds ~6 MB). */
export function defaultDistinctCap (columns: number): number {
  return columns <= 16 ? 100_000 : Math.max(5_000, Math.floor(1_600_000 / columns))
}

/** Malformed-row line numbers kept. */
export const MALFORMED_LINES = 20
const READ_BYTES = 1 << 22
const MAX_ROW_BYTES = 1 << 26
const ABORT_CHECK_ROWS = 1024

/** Profiles the CSV file at `path` as sniffed in `preview`, streaming it in chunks of rows. */
export async function profileCsv (path: string, preview: CsvPreview, opts: ProfileOptions = {}): Promise<CsvProfile> {
  const started = performance.now()
  const chunkRows = Math.max(1, opts.chunkRows ?? 10_000)
  const distinctCap = opts.distinctCap ?? defaultDistinctCap(preview.header.length)
  const sampleRows = opts.sampleRows ?? 1000
  const { signal, onChunk, resume } = opts
  signal?.throwIfAborted()
  const ncols = preview.header.length
  const utf8 = preview.encoding !== 'windows-1252'
  const encoding = preview.encoding
  const fh = await open(path, 'r')
  try {
    const size = (await fh.stat()).size
    let offset: number
    let line: number
    let rows: number
    let malformedRows: number
    let malformedLines: number[]
    let elapsedBefore: number
    let sample: Array<Array<string | null>>
    let cols: ColumnStats[]
    let headerPending: boolean
    if (resume !== undefined) {
      checkCheckpoint(resume, preview, size, distinctCap)
      ;({ offset, line, rows, malformedRows } = resume)
      malformedLines = [...resume.malformedLines]
      elapsedBefore = resume.elapsedMs
      sample = resume.sample.map((r) => [...r])
      cols = resume.columns.map((s) => ColumnStats.fromState(s, distinctCap, utf8))
      headerPending = false
    } else {
      offset = encoding === 'utf-8-bom' ? 3 : 0
      line = 1
      rows = 0
      malformedRows = 0
      malformedLines = []
      elapsedBefore = 0
      sample = []
      cols = Array.from({ length: ncols }, () => new ColumnStats(distinctCap, utf8))
      headerPending = true
    }

    const sc = new RowScanner(preview.delimiter.charCodeAt(0), ncols + 1)
    const maxRowBytes = opts.maxRowBytes ?? MAX_ROW_BYTES
    let buf = Buffer.allocUnsafe(Math.max(16, Math.min(opts.bufferBytes ?? READ_BYTES, size - offset + 1)))
    let scratch = Buffer.allocUnsafe(1024)
    let base = offset
    let len = 0
    let p = 0
    let eof = false
    let inChunk = 0
    let sinceAbortCheck = 0

    const malformed = (): void => {
      malformedRows++
      if (malformedLines.length < MALFORMED_LINES) malformedLines.push(line)
    }
    const checkpointAt = (at: number): ProfileCheckpoint => ({
      version: CHECKPOINT_VERSION,
      fileBytes: size,
      delimiter: preview.delimiter,
      encoding,
      header: [...preview.header],
      distinctCap,
      offset: at,
      line,
      rows,
      malformedRows,
      malformedLines: [...malformedLines],
      elapsedMs: elapsedBefore + performance.now() - started,
      sample: sample.map((r) => [...r]),
      columns: cols.map((c) => c.toState())
    })
    const report = async (): Promise<void> => {
      if (onChunk === undefined) return
      const at = base + p
      const done = rows + malformedRows
      let live = true
      let cached: ProfileCheckpoint | undefined
      const progress: ProfileProgress = {
        bytesDone: at,
        bytesTotal: size,
        rowsDone: done,
        rowsEstimate: at > 0 ? Math.max(done, Math.round(done * size / at)) : done,
        get checkpoint (): ProfileCheckpoint {
          if (!live) throw new CsvError(CsvErrorCode.STALE_CHECKPOINT, 'a checkpoint can only be read while its progress callback runs')
          cached ??= checkpointAt(at)
          return cached
        }
      }
      try {
        await onChunk(progress)
      } finally {
        live = false
      }
    }

    for (;;) {
      if (!eof) {
        if (p > 0) {
          buf.copyWithin(0, p, len)
          base += p
          len -= p
          p = 0
        }
        if (len === buf.length) {
          if (buf.length < maxRowBytes) {
            const bigger = Buffer.allocUnsafe(buf.length * 2)
            buf.copy(bigger, 0, 0, len)
            buf = bigger
          } else {
            // A row longer than maxRowBytes: an unclosed quote. Count it and go on at the next line.
            if (headerPending) headerPending = false
            else malformed()
            p = skipLine(buf, 0, len)
            line++
            continue
          }
        }
        const { bytesRead } = await fh.read(buf, len, buf.length - len, base + len)
        if (bytesRead === 0) eof = true
        len += bytesRead
        if (signal?.aborted === true) throw signal.reason
      }
      for (;;) {
        if (p >= len) break
        let next = sc.scan(buf, p, len, eof)
        if (next < 0) break
        const count = sc.count
        if (count === 1 && sc.ends[0] === sc.starts[0] && sc.flags[0] === FIELD_PLAIN && (ncols > 1 || headerPending)) {
          // Blank line: skipped.
          line += sc.newlines
          p = next
          continue
        }
        if (sc.status !== ROW_OK) {
          // Broken quoting: count the row and resynchronise at the line after its start.
          next = skipLine(buf, p, len)
          if (headerPending) headerPending = false
          else malformed()
          line++
        } else if (headerPending) {
          headerPending = false
          line += sc.newlines
          p = next
          continue
        } else if (count !== ncols) {
          malformed()
          line += sc.newlines
        } else {
          const keep = sample.length < sampleRows
          const row: Array<string | null> | null = keep ? new Array<string | null>(ncols) : null
          for (let i = 0; i < ncols; i++) {
            const s = sc.starts[i]!
            const e = sc.ends[i]!
            const col = cols[i]!
            if (s === e) {
              col.addNull()
              if (row !== null) row[i] = null
              continue
            }
            const f = sc.flags[i]!
            const rawS = f === FIELD_PLAIN ? s : s - 1
            const rawLen = (f === FIELD_PLAIN ? e : e + 1) - rawS
            if (f === FIELD_ESCAPED) {
              if (scratch.length < e - s) scratch = Buffer.allocUnsafe(e - s)
              const n = unescapeInto(buf, s, e, scratch)
              col.add(scratch, 0, n, base + rawS, rawLen)
            } else {
              col.add(buf, s, e, base + rawS, rawLen)
            }
            if (row !== null) row[i] = decodeCell(sc, i, buf, encoding)
          }
          if (row !== null) sample.push(row)
          rows++
          line += sc.newlines
        }
        p = next
        if (++sinceAbortCheck >= ABORT_CHECK_ROWS) {
          sinceAbortCheck = 0
          if (signal?.aborted === true) throw signal.reason
        }
        if (++inChunk >= chunkRows) {
          inChunk = 0
          await report()
          if (signal?.aborted === true) throw signal.reason
        }
      }
      if (eof && p >= len) break
    }
    if (inChunk > 0) await report()
    signal?.throwIfAborted()

    const read = async (off: number, n: number): Promise<Buffer> => {
      const b = Buffer.alloc(n)
      await fh.read(b, 0, n, off)
      return b
    }
    const columnStats: ColumnProfile[] = []
    for (let i = 0; i < ncols; i++) columnStats.push(await finalizeColumn(preview.header[i]!, cols[i]!, encoding, read))
    return {
      delimiter: preview.delimiter,
      encoding,
      header: [...preview.header],
      rows,
      columns: ncols,
      bytes: size,
      malformedRows,
      malformedLines,
      durationMs: elapsedBefore + performance.now() - started,
      columnStats,
      sample
    }
  } finally {
    await fh.close()
  }
}
