// Messages between a parallel profile and its range workers (`range-worker.ts`).

import type { RowProcessorOptions, RowProcessorState } from './row-processor.ts'

/** Control word bit: stop the task. */
export const CONTROL_ABORT = 1
/** Control word bit: post a snapshot of the statistics at the next row boundary. */
export const CONTROL_SNAPSHOT = 2

/** Profile one byte range. */
export interface RangeTask {
  kind: 'range'
  path: string
  /** File size when the profile started. */
  size: number
  options: RowProcessorOptions
  /** Where to go on from: the range start, or the offset of a checkpoint's snapshot. */
  offset: number
  /** Statistics at `offset` (null to start afresh). */
  state: RowProcessorState | null
  /** Rows starting at or after this offset belong to the next range. */
  stopAt: number
  chunkRows: number
  bufferBytes: number
  maxRowBytes: number
  /** Int32Array[1] of CONTROL_* bits, set by the parent thread. */
  control: SharedArrayBuffer
}

/** Merge the ranges' statistics and build the column profiles. */
export interface MergeTask {
  kind: 'merge'
  path: string
  options: RowProcessorOptions
  header: string[]
  /** Statistics of every range, in file order. */
  states: RowProcessorState[]
}
