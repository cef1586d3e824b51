// Turns running column statistics into the reported column profile, reading back from the file
// the few raw values (most frequent values, datetime extremes) that were tracked by offset only.

import type { FileHandle } from 'node:fs/promises'
import { KEPT_VALUE_BYTES, MAX_VALUE_CHARS, type ColumnStats } from './column-stats.ts'
import { typeFromMask, type ColumnType } from './infer.ts'
import { readPieces, type RawReader } from './piece-reader.ts'
import { decodeBytes, decodeRawCell, type CsvEncoding } from './text.ts'

/** Most frequent values reported per column. */
export const TOP_VALUES = 10

/** One most-frequent value and how often it occurs. */
export interface TopValue { value: string, count: number }

/** Statistics of one column. */
export interface ColumnProfile {
  /** Column name (from the header, made unique). */
  name: string
  /** Inferred type of the non-empty cells. */
  type: ColumnType
  /** Non-empty cells. */
  count: number
  /** Empty cells (quoted or not). */
  nulls: number
  /** Distinct non-empty values (by their text), exact unless `distinctIsEstimate`. */
  distinct: number
  /** True once the column passed the distinct cap: `distinct` is a HyperLogLog estimate (±2%). */
  distinctIsEstimate: boolean
  /** Smallest value (numeric / chronological / byte order, by type), null if no value. */
  min: string | null
  /** Largest value, like `min`. */
  max: string | null
  /** Mean of integer / number columns, else null. */
  mean: number | null
  /** Sample standard deviation of integer / number columns (null under two values). */
  stddev: number | null
  /** Shortest string cell in characters (string columns only). */
  minLength: number | null
  /** Longest string cell in characters (string columns only). */
  maxLength: number | null
  /** Most frequent values with counts, most frequent first (ties: first seen first). */
  topValues: TopValue[]
  /** True when the counts are Misra-Gries lower bounds (the column passed the distinct cap). */
  topValuesIsEstimate: boolean
  /** Present (true) when `min`, `max` or a top value was longer than MAX_VALUE_CHARS (256) and is cut there. */
  truncated?: true
}

// Cuts a reported value to MAX_VALUE_CHARS; `cut` says whether anything was left out (or already was, when read).
function capped (text: string, alreadyCut: boolean): { text: string, cut: boolean } {
  // A read of a prefix can end inside a character: drop its replacement character.
  const whole = alreadyCut ? text.replace(/\uFFFD$/, '') : text
  if (whole.length <= MAX_VALUE_CHARS && !alreadyCut) return { text: whole, cut: false }
  // Never between the two halves of a surrogate pair.
  let end = Math.min(whole.length, MAX_VALUE_CHARS)
  const last = whole.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end--
  return { text: whole.slice(0, end), cut: true }
}

export type { RawReader } from './piece-reader.ts'

// Where a value read back from the file goes: the column's min (-1), max (-2) or its k-th top value (k >= 0).
const MIN_SLOT = -1
const MAX_SLOT = -2

/** Raw reads still to make for a batch of columns: offset and length pairs, and where each one's text goes. */
interface Reads { pieces: number[], longer: boolean[], columns: number[], slots: number[], cut: boolean[] }

/**
 * The reported profile of a column from its running statistics, except the values that are read back from the file
 * (datetime extremes, top values): those are left empty and their reads added to `reads`, for column `index`.
 */
function settleColumn (name: string, c: ColumnStats, encoding: CsvEncoding, index: number, reads: Reads): ColumnProfile {
  const type = typeFromMask(c.mask)
  const numeric = type === 'integer' || type === 'number'
  let min: string | null = null
  let max: string | null = null
  let cut = false
  // Reads at most what can be reported of a raw cell (a 50 MB one is not read whole).
  const readLater = (off: number, len: number, slot: number): void => {
    reads.pieces.push(off, Math.min(len, KEPT_VALUE_BYTES))
    reads.longer.push(len > KEPT_VALUE_BYTES)
    reads.columns.push(index)
    reads.slots.push(slot)
  }
  const cap = (text: string, alreadyCut: boolean): string => {
    const out = capped(text, alreadyCut)
    cut ||= out.cut
    return out.text
  }
  if (c.count > 0) {
    if (numeric) {
      // Integers beyond ±2^53 are reported exactly (their doubles may round).
      const big = type === 'integer'
      min = big && c.bigMin !== null && !Number.isSafeInteger(c.numMin) ? String(c.bigMin) : String(c.numMin)
      max = big && c.bigMax !== null && !Number.isSafeInteger(c.numMax) ? String(c.bigMax) : String(c.numMax)
    } else if (type === 'date') {
      min = new Date(c.tMin).toISOString().slice(0, 10)
      max = new Date(c.tMax).toISOString().slice(0, 10)
    } else if (type === 'datetime') {
      readLater(c.tMinOff, c.tMinLen, MIN_SLOT)
      readLater(c.tMaxOff, c.tMaxLen, MAX_SLOT)
    } else {
      min = cap(decodeBytes(c.sMin, 0, c.sMinLen, encoding), c.sMinLen >= KEPT_VALUE_BYTES)
      max = cap(decodeBytes(c.sMax, 0, c.sMaxLen, encoding), c.sMaxLen >= KEPT_VALUE_BYTES)
    }
  }
  const topValues: TopValue[] = []
  for (const t of c.values.top(TOP_VALUES)) {
    readLater(t.offset, t.length, topValues.length)
    topValues.push({ value: '', count: t.count })
  }
  reads.cut[index] = cut
  const isString = type === 'string' && c.count > 0
  return {
    name,
    type,
    count: c.count,
    nulls: c.nulls,
    distinct: c.values.distinct(),
    distinctIsEstimate: c.values.approximate,
    min,
    max,
    mean: numeric && c.n > 0 ? c.mean : null,
    stddev: numeric && c.n > 1 ? Math.sqrt(c.m2 / (c.n - 1)) : null,
    minLength: isString ? c.lenMin : null,
    maxLength: isString ? c.lenMax : null,
    topValues,
    topValuesIsEstimate: c.values.approximate,
    ...(cut ? { truncated: true as const } : {})
  }
}

/** Raw reads per batch: bounds the memory of the bytes read back whatever the width (each read is at most ~1 KB). */
const BATCH_PIECES = 65_536

/**
 * The reported profiles of columns `cols` (named `names`) of the file `fh`. Their statistics are used first, for every
 * column, then `release` is called (the caller frees them) before the values are read back from the file in a few
 * large reads (see `readPieces`): a 30,000-column file's tables are not held while its profile is completed.
 */
export async function finalizeColumns (names: string[], cols: ColumnStats[], encoding: CsvEncoding, fh: FileHandle, release: () => void = () => {}): Promise<ColumnProfile[]> {
  const reads: Reads = { pieces: [], longer: [], columns: [], slots: [], cut: [] }
  const out = cols.map((c, i) => settleColumn(names[i]!, c, encoding, i, reads))
  release()
  const n = reads.columns.length
  for (let first = 0; first < n; first += BATCH_PIECES) {
    const last = Math.min(n, first + BATCH_PIECES)
    const read = await readPieces(fh, reads.pieces.slice(2 * first, 2 * last))
    for (let k = first; k < last; k++) {
      const i = reads.columns[k]!
      const slot = reads.slots[k]!
      const text = capped(decodeRawCell(await read(reads.pieces[2 * k]!, reads.pieces[2 * k + 1]!), encoding), reads.longer[k]!)
      if (text.cut) reads.cut[i] = true
      const p = out[i]!
      if (slot === MIN_SLOT) p.min = text.text
      else if (slot === MAX_SLOT) p.max = text.text
      else p.topValues[slot]!.value = text.text
    }
  }
  // Same key order as a profile built whole: `truncated` last.
  for (let i = 0; i < out.length; i++) if (reads.cut[i] === true && out[i]!.truncated === undefined) out[i]!.truncated = true
  return out
}
