// The synchronous hot loop of a profile: scans rows in a buffer and feeds their cells to the
// column statistics. Kept apart from the async driver so V8 optimizes it as an ordinary function.

import { ColumnStats, type ColumnStatsState } from './column-stats.ts'
import { FIELD_ESCAPED, FIELD_PLAIN, ROW_OK, RowScanner, skipLine, unescapeInto } from './scanner.ts'
import { TableArena } from './table-arena.ts'
import { decodeCell, type CsvEncoding } from './text.ts'

/** Longest sample cell kept, in characters: the sample shows what a column holds, not a 50 MB cell whole. */
export const SAMPLE_CELL_CHARS = 4096

// A cell of the sample, cut to SAMPLE_CELL_CHARS (copied out, so that the cut does not keep the whole cell alive).
function sampleCell (text: string): string {
  return text.length <= SAMPLE_CELL_CHARS ? text : Buffer.from(text.slice(0, SAMPLE_CELL_CHARS), 'utf16le').toString('utf16le')
}

/** Malformed-row line numbers kept. */
export const MALFORMED_LINES = 20

/** JSON-serializable state of a `RowProcessor` (the statistics part of a checkpoint). */
export interface RowProcessorState {
  line: number
  rows: number
  malformedRows: number
  malformedLines: number[]
  sample: Array<Array<string | null>>
  columns: ColumnStatsState[]
  /** True while the header row has not been seen (a range of blank lines only). */
  headerPending?: boolean
}

/** Settings of a `RowProcessor`. */
export interface RowProcessorOptions {
  delimiter: string
  encoding: CsvEncoding
  columns: number
  distinctCap: number
  sampleRows: number
  /** False for a range that starts after the header (a parallel profile's later ranges). Default true. */
  header?: boolean
  /**
   * Line number of the first row. Default 1; a later range of a parallel profile counts from 0 at
   * its start and its line numbers are shifted when ranges are merged.
   */
  line?: number
}

/** Row-by-row statistics of one CSV file. */
export class RowProcessor {
  /** Per-column statistics. */
  readonly cols: ColumnStats[]
  /** 1-based line number of the next row. */
  line = 1
  /** Well-formed data rows. */
  rows = 0
  malformedRows = 0
  malformedLines: number[] = []
  /** First data rows, null for empty cells. */
  sample: Array<Array<string | null>> = []
  /** True until the header row has been passed. */
  headerPending: boolean
  /** Data rows (well-formed or not) consumed by the last `process` call. */
  consumed = 0
  readonly #sc: RowScanner
  readonly #ncols: number
  readonly #encoding: CsvEncoding
  readonly #sampleRows: number
  readonly #arena = new TableArena()
  #scratch = Buffer.allocUnsafe(1024)

  constructor (o: RowProcessorOptions, state?: RowProcessorState) {
    const utf8 = o.encoding !== 'windows-1252'
    this.#ncols = o.columns
    this.#encoding = o.encoding
    this.#sampleRows = o.sampleRows
    this.#sc = new RowScanner(o.delimiter.charCodeAt(0), o.columns + 1)
    if (state === undefined) {
      // One arena for the whole range: only the small fixed tables of a very wide file's columns go there.
      this.cols = Array.from({ length: o.columns }, () => new ColumnStats(o.distinctCap, utf8, o.columns, this.#arena))
      this.headerPending = o.header ?? true
      this.line = o.line ?? 1
    } else {
      this.cols = state.columns.map((s) => ColumnStats.fromState(s, o.distinctCap, utf8, o.columns))
      this.line = state.line
      this.rows = state.rows
      this.malformedRows = state.malformedRows
      this.malformedLines = [...state.malformedLines]
      this.sample = state.sample.map((r) => [...r])
      this.headerPending = state.headerPending ?? false
    }
  }

  #malformed (): void {
    this.malformedRows++
    if (this.malformedLines.length < MALFORMED_LINES) this.malformedLines.push(this.line)
  }

  /** Counts the row at the start of a full buffer as malformed (too long); returns where to go on. */
  skipLongRow (buf: Buffer, len: number): number {
    if (this.headerPending) this.headerPending = false
    else this.#malformed()
    this.line++
    return skipLine(buf, 0, len)
  }

  /**
   * Processes complete rows of `buf[p, len)` (`base` = file offset of `buf[0]`) until `maxRows`
   * data rows, a row cut by the end of the data or a row starting at `stop` (a buffer position)
   * or later; returns the position after the last one.
   */
  process (buf: Buffer, p: number, len: number, eof: boolean, base: number, maxRows: number, stop = len): number {
    const sc = this.#sc
    const ncols = this.#ncols
    const cols = this.cols
    const end = Math.min(len, stop)
    let consumed = 0
    while (consumed < maxRows && p < end) {
      let next = sc.scan(buf, p, len, eof)
      if (next < 0) break
      const count = sc.count
      if (count === 1 && sc.ends[0] === sc.starts[0] && sc.flags[0] === FIELD_PLAIN && (ncols > 1 || this.headerPending)) {
        // Blank line: skipped.
        this.line += sc.newlines
        p = next
        continue
      }
      if (sc.status !== ROW_OK) {
        // Broken quoting: count the row and resynchronise at the line after its start.
        next = skipLine(buf, p, len)
        if (this.headerPending) this.headerPending = false
        else { this.#malformed(); consumed++ }
        this.line++
        p = next
        continue
      }
      if (this.headerPending) {
        this.headerPending = false
      } else if (count !== ncols) {
        this.#malformed()
        consumed++
      } else {
        const row = this.sample.length < this.#sampleRows ? new Array<string | null>(ncols) : null
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
          if (f === FIELD_PLAIN) {
            col.add(buf, s, e, base + s, e - s)
          } else if (f !== FIELD_ESCAPED) {
            col.add(buf, s, e, base + s - 1, e - s + 2)
          } else {
            if (this.#scratch.length < e - s) this.#scratch = Buffer.allocUnsafe(e - s)
            const n = unescapeInto(buf, s, e, this.#scratch)
            col.add(this.#scratch, 0, n, base + s - 1, e - s + 2)
          }
          if (row !== null) row[i] = sampleCell(decodeCell(sc, i, buf, this.#encoding))
        }
        if (row !== null) this.sample.push(row)
        this.rows++
        consumed++
      }
      this.line += sc.newlines
      p = next
    }
    this.consumed = consumed
    return p
  }

  /**
   * Frees the column tables held in the range's arena at once (see TableArena.release): the statistics are unusable
   * afterwards. For a finished profile whose result is built.
   */
  release (): void {
    this.#arena.release()
  }

  /** JSON-serializable state (`columns: false`: with an empty `columns`). */
  toState (options: { columns?: boolean } = {}): RowProcessorState {
    return {
      line: this.line,
      rows: this.rows,
      malformedRows: this.malformedRows,
      malformedLines: [...this.malformedLines],
      sample: this.sample.map((r) => [...r]),
      // Without them (`columns: false`) the caller writes the columns' states one at a time.
      columns: options.columns === false ? [] : this.cols.map((c) => c.toState()),
      headerPending: this.headerPending
    }
  }

  /**
   * Adds the statistics of `o`, the range that follows this one in the file (its line numbers
   * counted from 0 at its start): counts add up, line numbers shift, samples and column
   * statistics are merged in file order.
   */
  merge (o: RowProcessor): void {
    for (const l of o.malformedLines) {
      if (this.malformedLines.length >= MALFORMED_LINES) break
      this.malformedLines.push(this.line + l)
    }
    this.line += o.line
    this.rows += o.rows
    this.malformedRows += o.malformedRows
    for (const row of o.sample) {
      if (this.sample.length >= this.#sampleRows) break
      this.sample.push(row)
    }
    for (let i = 0; i < this.cols.length; i++) this.cols[i]!.merge(o.cols[i]!)
  }
}
