// Distinct count and most frequent values of one column, in bounded memory: exact (a hash table
// of value hashes with counts) up to `cap` distinct values, then a HyperLogLog for the distinct
// count and a Misra-Gries summary (counts are lower bounds) for the most frequent values.
// Values are never kept as strings: each entry remembers where its first occurrence is in the
// file (byte offset and raw length) so the few values that are reported can be read back.

import { HyperLogLog } from './hll.ts'

/** Where a counted value first occurs in the file, and how often it was counted. */
export interface CountedValue { count: number, offset: number, length: number }

/** JSON-serializable state of a `ValueCounter`. */
export interface ValueCounterState {
  /** Entries as base64 of a Float64Array of [h1, h2, count, offset, length] quintuples. */
  entries: string
  /** HyperLogLog registers (base64) once the exact phase is over, else null. */
  hll: string | null
}

/** Open-addressing table of (h1, h2) → count / first offset / raw length. */
class CountTable {
  mask: number
  size = 0
  h1: Int32Array
  h2: Int32Array
  cnt: Float64Array
  off: Float64Array
  len: Int32Array

  constructor (capacity: number) {
    this.mask = capacity - 1
    this.h1 = new Int32Array(capacity)
    this.h2 = new Int32Array(capacity)
    this.cnt = new Float64Array(capacity)
    this.off = new Float64Array(capacity)
    this.len = new Int32Array(capacity)
  }

  /** Adds `n` to the entry's count; returns true if the entry is new. */
  add (h1: number, h2: number, n: number, off: number, len: number): boolean {
    const mask = this.mask
    const cnt = this.cnt
    let i = h1 & mask
    for (;;) {
      const c = cnt[i]!
      if (c === 0) {
        this.h1[i] = h1
        this.h2[i] = h2
        cnt[i] = n
        this.off[i] = off
        this.len[i] = len
        this.size++
        return true
      }
      if (this.h1[i] === h1 && this.h2[i] === h2) {
        cnt[i] = c + n
        return false
      }
      i = (i + 1) & mask
    }
  }

  /** True if the entry exists; increments it. */
  bump (h1: number, h2: number): boolean {
    const mask = this.mask
    const cnt = this.cnt
    let i = h1 & mask
    for (;;) {
      const c = cnt[i]!
      if (c === 0) return false
      if (this.h1[i] === h1 && this.h2[i] === h2) { cnt[i] = c + 1; return true }
      i = (i + 1) & mask
    }
  }

  /** Every entry, in slot order. */
  entries (): Float64Array {
    const out = new Float64Array(this.size * 5)
    let o = 0
    for (let i = 0; i <= this.mask; i++) {
      if (this.cnt[i] === 0) continue
      out[o++] = this.h1[i]!
      out[o++] = this.h2[i]!
      out[o++] = this.cnt[i]!
      out[o++] = this.off[i]!
      out[o++] = this.len[i]!
    }
    return out
  }
}

function capacityFor (n: number): number {
  let c = 256
  while (c < n * 2) c *= 2
  return c
}

/** Entries in the Misra-Gries summary once exact counting is over. */
const MG_ENTRIES = 1024

/** Counts distinct values and their frequencies for one column. */
export class ValueCounter {
  /** Distinct values counted exactly before switching to estimates. */
  readonly cap: number
  #table: CountTable
  #hll: HyperLogLog | null = null

  constructor (cap: number) {
    this.cap = cap
    this.#table = new CountTable(256)
  }

  /** True once distinct values passed `cap` (distinct and frequencies are estimates). */
  get approximate (): boolean {
    return this.#hll !== null
  }

  /** Counts one value by its hashes; `off`/`len` locate its raw bytes in the file. */
  add (h1: number, h2: number, off: number, len: number): void {
    const t = this.#table
    if (this.#hll === null) {
      if (!t.add(h1, h2, 1, off, len)) return
      if (t.size > this.cap) this.#toApproximate()
      else if (t.size * 2 > t.mask + 1) this.#rehash(capacityFor(t.size))
      return
    }
    this.#hll.add(h1, h2)
    if (t.bump(h1, h2)) return
    if (t.size < MG_ENTRIES) { t.add(h1, h2, 1, off, len); return }
    this.#decrementAll()
  }

  #rehash (capacity: number): void {
    const e = this.#table.entries()
    const t = new CountTable(capacity)
    for (let i = 0; i < e.length; i += 5) t.add(e[i]!, e[i + 1]!, e[i + 2]!, e[i + 3]!, e[i + 4]!)
    this.#table = t
  }

  #toApproximate (): void {
    const e = this.#table.entries()
    const hll = new HyperLogLog()
    for (let i = 0; i < e.length; i += 5) hll.add(e[i]!, e[i + 1]!)
    this.#hll = hll
    // Keep the most frequent entries (ties: first seen) as the initial Misra-Gries counters.
    const idx = Array.from({ length: e.length / 5 }, (_, i) => i * 5)
    idx.sort((a, b) => (e[b + 2]! - e[a + 2]!) || (e[a + 3]! - e[b + 3]!))
    const t = new CountTable(capacityFor(MG_ENTRIES))
    for (const i of idx.slice(0, MG_ENTRIES)) t.add(e[i]!, e[i + 1]!, e[i + 2]!, e[i + 3]!, e[i + 4]!)
    this.#table = t
  }

  // Misra-Gries step for a value not in a full summary: every counter loses one, zeros leave.
  #decrementAll (): void {
    const e = this.#table.entries()
    const t = new CountTable(capacityFor(MG_ENTRIES))
    for (let i = 0; i < e.length; i += 5) {
      const c = e[i + 2]! - 1
      if (c > 0) t.add(e[i]!, e[i + 1]!, c, e[i + 3]!, e[i + 4]!)
    }
    this.#table = t
  }

  /** Number of distinct values (exact unless `approximate`). */
  distinct (): number {
    if (this.#hll === null) return this.#table.size
    return Math.max(this.cap + 1, this.#hll.estimate())
  }

  /** The `n` most frequent values, by count then first occurrence. */
  top (n: number): CountedValue[] {
    const e = this.#table.entries()
    const out: CountedValue[] = []
    for (let i = 0; i < e.length; i += 5) out.push({ count: e[i + 2]!, offset: e[i + 3]!, length: e[i + 4]! })
    out.sort((a, b) => (b.count - a.count) || (a.offset - b.offset))
    return out.slice(0, n)
  }

  /** JSON-serializable state. */
  toState (): ValueCounterState {
    const e = this.#table.entries()
    return {
      entries: Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('base64'),
      hll: this.#hll === null ? null : this.#hll.toBase64()
    }
  }

  /** Counter restored from `toState` output. */
  static fromState (cap: number, s: ValueCounterState): ValueCounter {
    const buf = Buffer.from(s.entries, 'base64')
    if (buf.length % 40 !== 0) throw new RangeError('bad value counter state')
    const e = new Float64Array(buf.length / 8)
    for (let i = 0; i < e.length; i++) e[i] = buf.readDoubleLE(i * 8)
    const v = new ValueCounter(cap)
    v.#table = new CountTable(capacityFor(Math.max(e.length / 5, s.hll === null ? 0 : MG_ENTRIES)))
    for (let i = 0; i < e.length; i += 5) v.#table.add(e[i]!, e[i + 1]!, e[i + 2]!, e[i + 3]!, e[i + 4]!)
    if (s.hll !== null) v.#hll = HyperLogLog.fromBase64(s.hll)
    return v
  }
}
