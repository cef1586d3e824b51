// Resume checkpoints of a parallel profile: per byte range, how far it got and its statistics.

import { CsvError, CsvErrorCode } from './errors.ts'
import type { RowProcessorState } from './row-processor.ts'
import type { CsvPreview } from './sniff.ts'

/** Version of the parallel checkpoint layout; bumped on any incompatible change. */
export const PARALLEL_CHECKPOINT_VERSION = 1

/** One byte range of a parallel profile, as far as it got. */
export interface RangeCheckpoint {
  /** First row of the range (a guessed row start until the range before it has reached it). */
  start: number
  /** Rows starting at or after this offset belong to the next range. */
  stopAt: number
  /** True if the range's first row may be the header. */
  header: boolean
  /** Offset of the next row to profile (the range end once `done`). */
  offset: number
  /** True once the range is profiled to its end. */
  done: boolean
  /** Once done: the header row was still to come at its end (the range held blank lines only). */
  headerPending?: boolean
  /** Statistics of the rows in [start, offset); null when nothing was profiled yet or when in `stateFile`. */
  state: RowProcessorState | null
  /** With a state folder: the file (in that folder) holding the statistics instead of `state`. */
  stateFile?: string
}

/** JSON-serializable state of an interrupted parallel profile; pass it back as `resume` to go on. */
export interface ParallelCheckpoint {
  version: number
  kind: 'parallel'
  /** Size of the file when the checkpoint was taken (a changed size refuses the resume). */
  fileBytes: number
  delimiter: CsvPreview['delimiter']
  encoding: CsvPreview['encoding']
  header: string[]
  distinctCap: number
  /** Profiling time spent so far, carried into `durationMs`. */
  elapsedMs: number
  /** The ranges in file order. */
  ranges: RangeCheckpoint[]
}

/** Bytes already profiled according to `cp`. */
export function checkpointBytes (cp: ParallelCheckpoint): number {
  return cp.ranges.reduce((n, r) => n + r.offset - r.start, 0)
}

/** Throws `BAD_CHECKPOINT` unless `cp` is a parallel checkpoint taken on this file with these settings. */
export function checkParallelCheckpoint (cp: ParallelCheckpoint, preview: CsvPreview, fileBytes: number, distinctCap: number): void {
  if (typeof cp !== 'object' || cp === null) {
    throw new CsvError(CsvErrorCode.BAD_CHECKPOINT, 'cannot resume from this checkpoint: not an object')
  }
  const problems: string[] = []
  if (cp.kind !== 'parallel' || cp.version !== PARALLEL_CHECKPOINT_VERSION) problems.push(`not a parallel checkpoint of version ${PARALLEL_CHECKPOINT_VERSION}`)
  if (cp.fileBytes !== fileBytes) problems.push(`the file is now ${fileBytes} bytes, was ${cp.fileBytes}`)
  if (cp.delimiter !== preview.delimiter) problems.push('a different delimiter')
  if (cp.encoding !== preview.encoding) problems.push('a different encoding')
  if (cp.distinctCap !== distinctCap) problems.push('a different distinctCap')
  if (!Array.isArray(cp.header) || cp.header.join('\u0000') !== preview.header.join('\u0000')) problems.push('a different header')
  const ranges = Array.isArray(cp.ranges) ? cp.ranges : []
  if (ranges.length === 0) problems.push('no ranges')
  const within = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) <= fileBytes
  for (const r of ranges) {
    const ok = typeof r === 'object' && r !== null && within(r.start) && within(r.offset) && within(r.stopAt) && r.offset >= r.start &&
      (r.stateFile !== undefined ? typeof r.stateFile === 'string' && /^range-\d+-(\d+|done)\.json$/.test(r.stateFile)
        : r.state === null ? r.offset === r.start : Array.isArray(r.state?.columns) && r.state.columns.length === preview.header.length)
    if (!ok) { problems.push('a damaged range'); break }
  }
  if (problems.length > 0) {
    throw new CsvError(CsvErrorCode.BAD_CHECKPOINT, `cannot resume from this checkpoint: ${problems.join('; ')}`)
  }
}
