// Messages between a parallel profile and its range workers (`range-worker.ts`). Statistics
// cross threads as JSON bytes in transferred buffers (or as files in a state folder), so the
// calling thread never serializes or parses them.

import type { ColumnProfile } from './finalize.ts'
import type { CsvProfile } from './profile.ts'
import type { RowProcessorOptions, RowProcessorState } from './row-processor.ts'

/** Control word bit: stop the task. */
export const CONTROL_ABORT = 1
/** Control word bit: post a snapshot of the statistics at the next row boundary. */
export const CONTROL_SNAPSHOT = 2

/** Where a range's statistics are: JSON bytes, a file in the state folder, or a parsed object. */
export type StateRef = { bytes: Uint8Array } | { file: string } | { json: RowProcessorState }

/** Profile one byte range. */
export interface RangeTask {
  kind: 'range'
  path: string
  /** File size when the profile started. */
  size: number
  options: RowProcessorOptions
  /** Position of the range in the file (names its state files). */
  index: number
  /** Where to go on from: the range start, or the offset of a checkpoint's snapshot. */
  offset: number
  /** Statistics at `offset` (null to start afresh). */
  state: StateRef | null
  /** Rows starting at or after this offset belong to the next range. */
  stopAt: number
  chunkRows: number
  bufferBytes: number
  maxRowBytes: number
  /** Folder for snapshot files (written and fsynced before they are announced), or null to post them. */
  stateDir: string | null
  /** Int32Array[2]: CONTROL_* bits, and the checkpoint round a snapshot belongs to; set by the parent thread. */
  control: SharedArrayBuffer
  /** Set when this is the file's only range: the worker finalizes the profile itself (no merge task). */
  finalize?: { header: string[], parquet?: ParquetRequest, columnsJson?: boolean }
}

/**
 * Parquet outputs to write where the profile is finalized, before it is sent: the profile is not cloned again to a
 * Parquet task. `durationMs` of summary.parquet is `elapsedBefore` plus the time since `startedAt` (epoch ms).
 */
export interface ParquetRequest {
  outDir: string
  base: Pick<CsvProfile, 'delimiter' | 'encoding' | 'header' | 'columns' | 'bytes'>
  elapsedBefore: number
  startedAt: number
}

/** The profile a merge (or an only range) sends back. */
export interface MergedProfile {
  rows: number
  malformedRows: number
  malformedLines: number[]
  sample: Array<Array<string | null>>
  /** Empty when the profiles were asked for as JSON (`columnsJson`): they are then in `columnsJson`. */
  columnStats: ColumnProfile[]
  /** The JSON text of the column profiles' array, in a transferred buffer (not 30,000 objects to clone). */
  columnsJson?: Uint8Array[]
}

/** Merge the ranges' statistics and build the column profiles. */
export interface MergeTask {
  kind: 'merge'
  path: string
  options: RowProcessorOptions
  header: string[]
  stateDir: string | null
  /** Statistics of every range, in file order. */
  states: StateRef[]
  parquet?: ParquetRequest
  /** Send the column profiles back as the JSON text of their array (`MergedProfile.columnsJson`). */
  columnsJson?: boolean
}

/** Write the Parquet outputs of a finished profile (`writeProfileParquet`) off the calling thread. */
export interface ParquetTask {
  kind: 'parquet'
  outDir: string
  profile: CsvProfile
}
