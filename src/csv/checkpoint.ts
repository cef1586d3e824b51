// Resume checkpoints: a row-boundary byte offset plus the partial statistics, as plain JSON.

import { CsvError, CsvErrorCode } from './errors.ts'
import type { RowProcessorState } from './row-processor.ts'
import type { CsvPreview } from './sniff.ts'

/** Version of the checkpoint layout; bumped on any incompatible change. */
export const CHECKPOINT_VERSION = 1

/**
 * JSON-serializable state of an interrupted profile; pass it back as `resume` to go on. Holds the
 * next line number, row counts, malformed lines, the sample so far and each column's partial
 * statistics (`RowProcessorState`), plus what identifies the file and settings.
 */
export interface ProfileCheckpoint extends RowProcessorState {
  version: number
  /** Size of the file when the checkpoint was taken (a changed size refuses the resume). */
  fileBytes: number
  delimiter: CsvPreview['delimiter']
  encoding: CsvPreview['encoding']
  header: string[]
  distinctCap: number
  /** Byte offset of the next row to read (always a row boundary). */
  offset: number
  /** Profiling time spent so far, carried into `durationMs`. */
  elapsedMs: number
}

/** Throws `BAD_CHECKPOINT` unless `cp` was taken on this file with these settings. */
export function checkCheckpoint (cp: ProfileCheckpoint, preview: CsvPreview, fileBytes: number, distinctCap: number): void {
  if (typeof cp !== 'object' || cp === null) {
    throw new CsvError(CsvErrorCode.BAD_CHECKPOINT, 'cannot resume from this checkpoint: not an object')
  }
  const problems: string[] = []
  if (cp.version !== CHECKPOINT_VERSION) problems.push(`version ${String(cp.version)} (expected ${CHECKPOINT_VERSION})`)
  if (cp.fileBytes !== fileBytes) problems.push(`the file is now ${fileBytes} bytes, was ${cp.fileBytes}`)
  if (cp.delimiter !== preview.delimiter) problems.push('a different delimiter')
  if (cp.encoding !== preview.encoding) problems.push('a different encoding')
  if (cp.distinctCap !== distinctCap) problems.push('a different distinctCap')
  if (!Array.isArray(cp.columns) || cp.columns.length !== preview.header.length ||
    cp.header.join('\u0000') !== preview.header.join('\u0000')) problems.push('a different header')
  if (!(cp.offset >= 0 && cp.offset <= fileBytes)) problems.push('an offset outside the file')
  if (problems.length > 0) {
    throw new CsvError(CsvErrorCode.BAD_CHECKPOINT, `cannot resume from this checkpoint: ${problems.join('; ')}`)
  }
}
