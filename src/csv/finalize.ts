// Turns running column statistics into the reported column profile, reading back from the file
// the few raw values (most frequent values, datetime extremes) that were tracked by offset only.

import { KEPT_VALUE_BYTES, MAX_VALUE_CHARS, type ColumnStats } from './column-stats.ts'
import { typeFromMask, type ColumnType } from './infer.ts'
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

/** Reads `len` raw bytes at file offset `off`. */
export type RawReader = (off: number, len: number) => Promise<Buffer>

/** Builds the reported profile of a column from its running statistics. */
export async function finalizeColumn (name: string, c: ColumnStats, encoding: CsvEncoding, read: RawReader): Promise<ColumnProfile> {
  const type = typeFromMask(c.mask)
  const numeric = type === 'integer' || type === 'number'
  let min: string | null = null
  let max: string | null = null
  let cut = false
  // Reads at most what can be reported of a raw cell (a 50 MB one is not read whole).
  const readCapped = async (off: number, len: number): Promise<string> => {
    const text = capped(decodeRawCell(await read(off, Math.min(len, KEPT_VALUE_BYTES)), encoding), len > KEPT_VALUE_BYTES)
    cut ||= text.cut
    return text.text
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
      min = await readCapped(c.tMinOff, c.tMinLen)
      max = await readCapped(c.tMaxOff, c.tMaxLen)
    } else {
      min = cap(decodeBytes(c.sMin, 0, c.sMinLen, encoding), c.sMinLen >= KEPT_VALUE_BYTES)
      max = cap(decodeBytes(c.sMax, 0, c.sMaxLen, encoding), c.sMaxLen >= KEPT_VALUE_BYTES)
    }
  }
  const topValues: TopValue[] = []
  for (const t of c.values.top(TOP_VALUES)) {
    topValues.push({ value: await readCapped(t.offset, t.length), count: t.count })
  }
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
