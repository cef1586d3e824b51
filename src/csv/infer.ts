// Classifies one cell's bytes as integer / number / boolean / date / datetime / string without
// creating strings on the common paths.

/** Kind bit: integer (optional sign, digits, within the 64-bit range). */
export const KIND_INT = 1
/** Kind bit: decimal or scientific number. */
export const KIND_NUM = 2
/** Kind bit: true / false (any case). */
export const KIND_BOOL = 4
/** Kind bit: ISO date YYYY-MM-DD. */
export const KIND_DATE = 8
/** Kind bit: ISO datetime YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|±HH:MM]. */
export const KIND_DT = 16
/** Kind bit: anything else. */
export const KIND_STR = 32

/** Inferred column type. */
export type ColumnType = 'integer' | 'number' | 'boolean' | 'date' | 'datetime' | 'string'

/**
 * Scratch output of `classify`: [0] numeric value (INT/NUM), [1] epoch milliseconds (DATE/DT),
 * [2] for DATE/DT the cell's fixed shape (see `temporalShape`), 0 if it has a fraction or an offset.
 */
export const parsed = new Float64Array(3)

/**
 * Shape code of a date or datetime without fraction or offset: its length (10, 16, 17, 19 or 20,
 * which fixes where the digits, colons and a final `Z` are) and whether it separates with `T`.
 * Two cells of the same shape compare in byte order exactly as they do in time, and are equal
 * bytes exactly when they are the same instant.
 */
export function temporalShape (len: number, sep: number): number {
  return len * 2 + (sep === 0x54 ? 1 : 0)
}

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i)
const DAY_MS = 86_400_000

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil). */
export function daysFromCivil (y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

function daysInMonth (y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31
}

function isDigit (c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39
}

function d2 (b: Buffer, i: number): number {
  const x = b[i]! - 0x30
  const y = b[i + 1]! - 0x30
  if (x < 0 || x > 9 || y < 0 || y > 9) return -1
  return x * 10 + y
}

function classifyNumber (b: Buffer, s: number, e: number): number {
  let i = s
  let c = b[i]!
  let neg = false
  if (c === 0x2d || c === 0x2b) { neg = c === 0x2d; i++ }
  let mant = 0
  let digits = 0
  while (i < e) {
    c = b[i]! - 0x30
    if (c < 0 || c > 9) break
    mant = mant * 10 + c
    digits++
    i++
  }
  if (i === e) {
    if (digits === 0) return 0
    if (digits <= 15) { parsed[0] = neg ? -mant : mant; return KIND_INT }
    const text = b.toString('latin1', s, e)
    parsed[0] = Number.parseFloat(text)
    if (digits <= 18) return KIND_INT
    if (digits > 19) return KIND_NUM
    const v = BigInt(text)
    return v >= INT64_MIN && v <= INT64_MAX ? KIND_INT : KIND_NUM
  }
  let frac = 0
  if (b[i] === 0x2e) {
    i++
    while (i < e) {
      c = b[i]! - 0x30
      if (c < 0 || c > 9) break
      mant = mant * 10 + c
      digits++
      frac++
      i++
    }
  }
  if (digits === 0) return 0
  let exp = false
  if (i < e && (b[i] === 0x65 || b[i] === 0x45)) {
    exp = true
    i++
    if (i < e && (b[i] === 0x2d || b[i] === 0x2b)) i++
    if (!isDigit(b[i])) return 0
    while (i < e && isDigit(b[i])) i++
  }
  if (i !== e) return 0
  // Both operands are exact doubles, so one IEEE division is correctly rounded (same as parseFloat).
  if (!exp && digits <= 15) parsed[0] = (neg ? -mant : mant) / POW10[frac]!
  else {
    parsed[0] = Number.parseFloat(b.toString('latin1', s, e))
    if (!Number.isFinite(parsed[0])) return 0
  }
  return KIND_NUM
}

// The last valid date parsed (y * 10000 + m * 100 + d) and its day number.
let lastYmd = -1
let lastDays = 0

function classifyTemporal (b: Buffer, s: number, e: number): number {
  if (b[s + 4] !== 0x2d || b[s + 7] !== 0x2d) return 0
  const y1 = d2(b, s)
  const y2 = d2(b, s + 2)
  const m = d2(b, s + 5)
  const d = d2(b, s + 8)
  if (y1 < 0 || y2 < 0 || m < 1 || m > 12 || d < 1) return 0
  const y = y1 * 100 + y2
  // Dates repeat from row to row in most files: the last one is remembered.
  const ymd = (y * 100 + m) * 100 + d
  if (ymd !== lastYmd) {
    if (d > daysInMonth(y, m)) return 0
    lastDays = daysFromCivil(y, m, d)
    lastYmd = ymd
  }
  const days = lastDays
  const len = e - s
  if (len === 10) { parsed[1] = days * DAY_MS; parsed[2] = temporalShape(10, 0); return KIND_DATE }
  const sep = b[s + 10]
  if ((sep !== 0x54 && sep !== 0x20) || len < 16 || b[s + 13] !== 0x3a) return 0
  const hh = d2(b, s + 11)
  const mi = d2(b, s + 14)
  if (hh < 0 || hh > 23 || mi < 0 || mi > 59) return 0
  let i = s + 16
  let sec = 0
  let ms = 0
  let plain = true
  if (i < e && b[i] === 0x3a) {
    if (i + 3 > e) return 0
    sec = d2(b, i + 1)
    if (sec < 0 || sec > 59) return 0
    i += 3
    if (i < e && b[i] === 0x2e) {
      plain = false
      i++
      let n = 0
      while (i < e && isDigit(b[i])) {
        if (n < 3) ms = ms * 10 + (b[i]! - 0x30)
        n++
        i++
      }
      if (n === 0) return 0
      if (n === 1) ms *= 100
      else if (n === 2) ms *= 10
    }
  }
  let offset = 0
  if (i < e) {
    const c = b[i]
    if (c === 0x5a) i++
    else if (c === 0x2b || c === 0x2d) {
      plain = false
      if (i + 3 > e) return 0
      const oh = d2(b, i + 1)
      i += 3
      let om = 0
      if (i < e && b[i] === 0x3a) i++
      if (i < e) { if (i + 2 > e) return 0; om = d2(b, i); i += 2 }
      if (oh < 0 || oh > 23 || om < 0 || om > 59) return 0
      offset = (c === 0x2d ? -1 : 1) * (oh * 60 + om) * 60_000
    } else return 0
    if (i !== e) return 0
  }
  parsed[1] = days * DAY_MS + hh * 3_600_000 + mi * 60_000 + sec * 1000 + ms - offset
  parsed[2] = plain ? temporalShape(len, sep) : 0
  return KIND_DT
}

function lower (c: number | undefined): number {
  return c === undefined ? 0 : c | 0x20
}

/** Kind bit of the non-empty cell `b[s, e)`; fills `parsed` for numbers, dates and datetimes. */
export function classify (b: Buffer, s: number, e: number): number {
  const c = b[s]!
  // Four digits and a dash cannot start a number: straight to the date parser.
  if (e - s >= 10 && b[s + 4] === 0x2d && c >= 0x30 && c <= 0x39 && isDigit(b[s + 1]) && isDigit(b[s + 2]) && isDigit(b[s + 3])) {
    const t = classifyTemporal(b, s, e)
    return t !== 0 ? t : KIND_STR
  }
  if ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e) {
    const k = classifyNumber(b, s, e)
    if (k !== 0) return k
    if (e - s >= 10 && c >= 0x30 && c <= 0x39) {
      const t = classifyTemporal(b, s, e)
      if (t !== 0) return t
    }
    return KIND_STR
  }
  const len = e - s
  if (len === 4 && (c | 0x20) === 0x74 && lower(b[s + 1]) === 0x72 && lower(b[s + 2]) === 0x75 && lower(b[s + 3]) === 0x65) return KIND_BOOL
  if (len === 5 && (c | 0x20) === 0x66 && lower(b[s + 1]) === 0x61 && lower(b[s + 2]) === 0x6c && lower(b[s + 3]) === 0x73 && lower(b[s + 4]) === 0x65) return KIND_BOOL
  return KIND_STR
}

/** Column type from the OR of the kinds of all its non-empty cells (all-empty → string). */
export function typeFromMask (mask: number): ColumnType {
  if (mask === 0) return 'string'
  if ((mask & ~KIND_INT) === 0) return 'integer'
  if ((mask & ~(KIND_INT | KIND_NUM)) === 0) return 'number'
  if (mask === KIND_BOOL) return 'boolean'
  if (mask === KIND_DATE) return 'date'
  if ((mask & ~(KIND_DATE | KIND_DT)) === 0) return 'datetime'
  return 'string'
}
