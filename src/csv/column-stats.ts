// Running statistics of one column, fed cell by cell from the scanner's byte ranges.

import { hashBytes, hashOut } from './hash.ts'
import { classify, parsed, typeFromMask, KIND_DATE, KIND_DT, KIND_INT, KIND_NUM, KIND_STR } from './infer.ts'
import type { TableArena } from './table-arena.ts'
import { ValueCounter, type ValueCounterState } from './value-counter.ts'

/** JSON-serializable state of a `ColumnStats`. */
export interface ColumnStatsState {
  mask: number
  count: number
  nulls: number
  n: number
  mean: number
  m2: number
  numMin: number | null
  numMax: number | null
  bigMin: string | null
  bigMax: string | null
  tMin: [number, number, number] | null
  tMax: [number, number, number] | null
  sMin: string | null
  sMax: string | null
  lenMin: number | null
  lenMax: number | null
  values: ValueCounterState
}

/** Longest text a profile reports of one cell (min, max, a top value), in characters: longer ones are cut and marked. */
export const MAX_VALUE_CHARS = 256
/** Bytes of a cell kept for its min / max: enough for MAX_VALUE_CHARS in any UTF-8, and one more saying it was longer. */
export const KEPT_VALUE_BYTES = MAX_VALUE_CHARS * 4 + 1

const TWO_53 = 2 ** 53

// Min / max buffers until a column's first string cell: a numeric column never allocates them (two per column were
// ~40 MB for 30,000 columns).
const NO_BYTES = Buffer.alloc(0)

// Column shape states: no cell yet, or cells of more than one shape (else a `temporalShape` code).
const SHAPE_NONE = -1
const SHAPE_MIXED = 0

/** Copies `b[s, e)` to the start of `dst` (long enough); returns the length. Short cells by hand: Buffer#copy costs a native call. */
function copyCell (b: Buffer, s: number, e: number, dst: Buffer): number {
  const n = e - s
  if (n > 32) return b.copy(dst, 0, s, e)
  for (let i = 0; i < n; i++) dst[i] = b[s + i]!
  return n
}

function compareBytes (b: Buffer, s: number, e: number, ref: Buffer, refLen: number): number {
  const n = Math.min(e - s, refLen)
  for (let i = 0; i < n; i++) {
    const d = b[s + i]! - ref[i]!
    if (d !== 0) return d
  }
  return (e - s) - refLen
}

/** Statistics of one column: kinds seen, counts, numeric moments, ranges, distinct values. */
export class ColumnStats {
  /** OR of the kind bits of every non-empty cell. */
  mask = 0
  /** Non-empty cells. */
  count = 0
  /** Empty cells. */
  nulls = 0
  /** Numeric cells (Welford's running mean and sum of squared deviations). */
  n = 0
  mean = 0
  m2 = 0
  numMin = Infinity
  numMax = -Infinity
  /** Exact extremes among integers beyond ±2^53, where doubles cannot tell them apart. */
  bigMin: bigint | null = null
  bigMax: bigint | null = null
  /** Smallest / largest date or datetime in epoch ms, with the raw location of its first occurrence. */
  tMin = Infinity
  tMinOff = -1
  tMinLen = 0
  tMax = -Infinity
  tMaxOff = -1
  tMaxLen = 0
  /** Byte-wise smallest / largest cell (copied; -1 length = none yet). */
  sMin: Buffer = NO_BYTES
  sMinLen = -1
  sMax: Buffer = NO_BYTES
  sMaxLen = -1
  /** Shortest / longest cell in characters. */
  lenMin = Infinity
  lenMax = -1
  /** Distinct values and frequencies. */
  values: ValueCounter
  readonly #utf8: boolean
  #settled = false
  /**
   * While every cell so far is a date or datetime of one fixed shape, byte order is time order:
   * the byte-order extremes are the chronological ones, found with the number already parsed.
   */
  #shape = SHAPE_NONE

  /**
   * Statistics of one of the `columns` columns of a file (a very wide file gets smaller sketches, see ValueCounter,
   * allocated in `arena` when given).
   */
  constructor (distinctCap: number, utf8: boolean, columns = 1, arena?: TableArena) {
    this.values = new ValueCounter(distinctCap, columns, arena)
    this.#utf8 = utf8
  }

  /** Counts an empty cell. */
  addNull (): void {
    this.nulls++
  }

  /** Adds the non-empty cell `b[s, e)`, whose raw bytes are at file offset `rawOff`, `rawLen` long. */
  add (b: Buffer, s: number, e: number, rawOff: number, rawLen: number): void {
    this.count++
    hashBytes(b, s, e)
    const h1 = hashOut[0]!
    const h2 = hashOut[1]!
    const values = this.values
    // A value seen before (exact phase) cannot move the type, ranges or lengths: only the
    // moments need its number, recorded at its first occurrence.
    const k = values.hit(h1, h2)
    if (k >= 0) {
      const known = values.kindOf(k)
      if (known !== 0) {
        if (known <= KIND_NUM) this.#moments(values.numOf(k))
        return
      }
    }
    // Once a column can only end up as `string`, types and numeric/temporal ranges no longer matter.
    const kind = this.#settled ? KIND_STR : classify(b, s, e)
    if ((this.mask | kind) !== this.mask) {
      this.mask |= kind
      this.#settled = typeFromMask(this.mask) === 'string'
    }
    let x = 0
    if (kind <= KIND_NUM) {
      x = parsed[0]!
      this.#moments(x)
      if (x < this.numMin) this.numMin = x
      if (x > this.numMax) this.numMax = x
      if (kind === KIND_INT && (x >= TWO_53 || x <= -TWO_53)) this.#addBig(BigInt(b.toString('latin1', s, e)))
    } else if (kind === KIND_DATE || kind === KIND_DT) {
      const t = parsed[1]!
      const shape = parsed[2]!
      if (shape !== SHAPE_MIXED && (shape === this.#shape || this.#shape === SHAPE_NONE)) {
        // One fixed shape so far (ASCII, so length = bytes): the byte-order extremes move with the
        // time extremes, and ties (the same instant) are the same bytes.
        this.#shape = shape
        if (t < this.tMin) { this.tMin = t; this.tMinOff = rawOff; this.tMinLen = rawLen; this.#setMin(b, s, e) }
        if (t > this.tMax) { this.tMax = t; this.tMaxOff = rawOff; this.tMaxLen = rawLen; this.#setMax(b, s, e) }
        if (e - s < this.lenMin) this.lenMin = e - s
        if (e - s > this.lenMax) this.lenMax = e - s
        if (k >= 0) values.setKind(k, kind, x)
        else if (k === -1) values.insert(h1, h2, rawOff, rawLen, kind, x)
        else values.add(h1, h2, rawOff, rawLen)
        return
      }
      if (t < this.tMin) { this.tMin = t; this.tMinOff = rawOff; this.tMinLen = rawLen }
      if (t > this.tMax) { this.tMax = t; this.tMaxOff = rawOff; this.tMaxLen = rawLen }
    }
    this.#shape = SHAPE_MIXED
    const len = this.#utf8 ? e - s - hashOut[2]! : e - s
    if (len < this.lenMin) this.lenMin = len
    if (len > this.lenMax) this.lenMax = len
    // Cells are never empty here, so the first byte decides most comparisons.
    const c0 = b[s]!
    if (this.sMinLen < 0 || (c0 <= this.sMin[0]! && compareBytes(b, s, e, this.sMin, this.sMinLen) < 0)) this.#setMin(b, s, e)
    if (this.sMaxLen < 0 || (c0 >= this.sMax[0]! && compareBytes(b, s, e, this.sMax, this.sMaxLen) > 0)) this.#setMax(b, s, e)
    if (k >= 0) values.setKind(k, kind, x)
    else if (k === -1) values.insert(h1, h2, rawOff, rawLen, kind, x)
    else values.add(h1, h2, rawOff, rawLen)
  }

  // Only the first KEPT_VALUE_BYTES are kept (one more than is reported, which says the cell was longer): a 50 MB
  // cell costs no copy of itself, and a cell that shares that prefix with the kept one reports the same text.
  #setMin (b: Buffer, s: number, e: number): void {
    const keep = Math.min(e - s, KEPT_VALUE_BYTES)
    if (this.sMin.length < keep) this.sMin = this.#bytes(Math.min(KEPT_VALUE_BYTES, Math.max(keep, 64, this.sMin.length * 2)))
    this.sMinLen = copyCell(b, s, s + keep, this.sMin)
  }

  #setMax (b: Buffer, s: number, e: number): void {
    const keep = Math.min(e - s, KEPT_VALUE_BYTES)
    if (this.sMax.length < keep) this.sMax = this.#bytes(Math.min(KEPT_VALUE_BYTES, Math.max(keep, 64, this.sMax.length * 2)))
    this.sMaxLen = copyCell(b, s, s + keep, this.sMax)
  }

  // A zeroed min / max buffer of `n` bytes: the first (64 bytes) of a very wide file's column is a view into the arena
  // of its tables (two Buffers of their own per column were ~25 MB of bookkeeping at 30,000 columns).
  #bytes (n: number): Buffer {
    const arena = this.values.arena
    if (arena === undefined || n > 64) return Buffer.alloc(n)
    const { buffer, offset } = arena.take(n)
    return Buffer.from(buffer, offset, n)
  }

  // Welford's running mean and sum of squared deviations.
  #moments (x: number): void {
    const n = ++this.n
    const d = x - this.mean
    this.mean += d / n
    this.m2 += d * (x - this.mean)
  }

  /**
   * Adds the statistics of `o`, gathered on the part of the file that follows this one: sums,
   * extremes (ties keep the earlier occurrence), moments by Chan et al.'s parallel formula and
   * the distinct values (exact union up to the cap, else HyperLogLog and Misra-Gries merges).
   */
  merge (o: ColumnStats): void {
    this.#shape = SHAPE_MIXED
    this.mask |= o.mask
    this.#settled = this.mask !== 0 && typeFromMask(this.mask) === 'string'
    this.count += o.count
    this.nulls += o.nulls
    if (o.n > 0) {
      if (this.n === 0) {
        this.n = o.n
        this.mean = o.mean
        this.m2 = o.m2
      } else {
        const n = this.n + o.n
        const d = o.mean - this.mean
        this.mean += d * (o.n / n)
        this.m2 += o.m2 + d * d * (this.n / n) * o.n
        this.n = n
      }
    }
    if (o.numMin < this.numMin) this.numMin = o.numMin
    if (o.numMax > this.numMax) this.numMax = o.numMax
    if (o.bigMin !== null) this.#addBig(o.bigMin)
    if (o.bigMax !== null) this.#addBig(o.bigMax)
    if (o.tMinOff >= 0 && (this.tMinOff < 0 || o.tMin < this.tMin)) { this.tMin = o.tMin; this.tMinOff = o.tMinOff; this.tMinLen = o.tMinLen }
    if (o.tMaxOff >= 0 && (this.tMaxOff < 0 || o.tMax > this.tMax)) { this.tMax = o.tMax; this.tMaxOff = o.tMaxOff; this.tMaxLen = o.tMaxLen }
    if (o.sMinLen >= 0 && (this.sMinLen < 0 || compareBytes(o.sMin, 0, o.sMinLen, this.sMin, this.sMinLen) < 0)) {
      this.sMin = Buffer.from(o.sMin.subarray(0, Math.max(64, o.sMinLen)))
      this.sMinLen = o.sMinLen
    }
    if (o.sMaxLen >= 0 && (this.sMaxLen < 0 || compareBytes(o.sMax, 0, o.sMaxLen, this.sMax, this.sMaxLen) > 0)) {
      this.sMax = Buffer.from(o.sMax.subarray(0, Math.max(64, o.sMaxLen)))
      this.sMaxLen = o.sMaxLen
    }
    if (o.lenMin < this.lenMin) this.lenMin = o.lenMin
    if (o.lenMax > this.lenMax) this.lenMax = o.lenMax
    this.values.merge(o.values)
  }

  #addBig (v: bigint): void {
    if (this.bigMin === null || v < this.bigMin) this.bigMin = v
    if (this.bigMax === null || v > this.bigMax) this.bigMax = v
  }

  /** True if every non-empty cell is an integer. */
  get integersOnly (): boolean {
    return (this.mask & ~KIND_INT) === 0
  }

  /** JSON-serializable state. */
  toState (): ColumnStatsState {
    return {
      mask: this.mask,
      count: this.count,
      nulls: this.nulls,
      n: this.n,
      mean: this.mean,
      m2: this.m2,
      numMin: this.n > 0 ? this.numMin : null,
      numMax: this.n > 0 ? this.numMax : null,
      bigMin: this.bigMin === null ? null : String(this.bigMin),
      bigMax: this.bigMax === null ? null : String(this.bigMax),
      tMin: this.tMinOff >= 0 ? [this.tMin, this.tMinOff, this.tMinLen] : null,
      tMax: this.tMaxOff >= 0 ? [this.tMax, this.tMaxOff, this.tMaxLen] : null,
      sMin: this.sMinLen >= 0 ? this.sMin.toString('base64', 0, this.sMinLen) : null,
      sMax: this.sMaxLen >= 0 ? this.sMax.toString('base64', 0, this.sMaxLen) : null,
      lenMin: this.lenMax >= 0 ? this.lenMin : null,
      lenMax: this.lenMax >= 0 ? this.lenMax : null,
      values: this.values.toState()
    }
  }

  /** Column statistics restored from `toState` output. */
  static fromState (s: ColumnStatsState, distinctCap: number, utf8: boolean, columns = 1): ColumnStats {
    const c = new ColumnStats(distinctCap, utf8, columns)
    c.mask = s.mask
    c.#settled = s.mask !== 0 && typeFromMask(s.mask) === 'string'
    c.count = s.count
    c.nulls = s.nulls
    c.n = s.n
    c.mean = s.mean
    c.m2 = s.m2
    c.numMin = s.numMin ?? Infinity
    c.numMax = s.numMax ?? -Infinity
    c.bigMin = s.bigMin === null ? null : BigInt(s.bigMin)
    c.bigMax = s.bigMax === null ? null : BigInt(s.bigMax)
    if (s.tMin !== null) [c.tMin, c.tMinOff, c.tMinLen] = s.tMin
    if (s.tMax !== null) [c.tMax, c.tMaxOff, c.tMaxLen] = s.tMax
    if (s.sMin !== null) { const b = Buffer.from(s.sMin, 'base64'); c.sMin = Buffer.alloc(Math.max(64, b.length)); c.sMinLen = b.copy(c.sMin) }
    if (s.sMax !== null) { const b = Buffer.from(s.sMax, 'base64'); c.sMax = Buffer.alloc(Math.max(64, b.length)); c.sMaxLen = b.copy(c.sMax) }
    c.lenMin = s.lenMin ?? Infinity
    c.lenMax = s.lenMax ?? -1
    c.values = ValueCounter.fromState(distinctCap, s.values, columns)
    // Whether the cells before had one shape is not in the state.
    c.#shape = s.count === 0 ? SHAPE_NONE : SHAPE_MIXED
    return c
  }
}
