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
  /** Entries in insertion order, as base64 of a Float64Array of [h1, h2, count, offset, length]. */
  entries: string
  /** HyperLogLog registers (base64) once the exact phase is over, else null. */
  hll: string | null
}

/**
 * Open-addressing table of (h1, h2) → count, with the first offset and raw length of each entry
 * kept aside in insertion order. Hot fields share one 16-byte slot so a probe touches one cache line.
 */
class CountTable {
  mask4: number
  size = 0
  /** Per slot: h1, h2, count (uint32), entry index + 1 (0 = empty slot). */
  slots: Int32Array
  off: Float64Array
  len: Int32Array

  constructor (capacity: number) {
    this.mask4 = capacity * 4 - 1
    this.slots = new Int32Array(capacity * 4)
    // One spare entry: the table is grown right after the add that crosses half full.
    this.off = new Float64Array((capacity >> 1) + 1)
    this.len = new Int32Array((capacity >> 1) + 1)
  }

  /** Adds `n` to the entry's count, creating it if needed; returns true if it is new. */
  add (h1: number, h2: number, n: number, off: number, len: number): boolean {
    const slots = this.slots
    const mask4 = this.mask4
    let i = (h1 << 2) & mask4
    for (;;) {
      const e = slots[i + 3]!
      if (e === 0) {
        const k = this.size++
        slots[i] = h1
        slots[i + 1] = h2
        slots[i + 2] = n
        slots[i + 3] = k + 1
        this.off[k] = off
        this.len[k] = len
        return true
      }
      if (slots[i] === h1 && slots[i + 1] === h2) {
        slots[i + 2] = slots[i + 2]! + n
        return false
      }
      i = (i + 4) & mask4
    }
  }

  /** Increments the entry if it exists, else inserts it with count 1 if fewer than `max` entries; false if full. */
  bumpOrInsert (h1: number, h2: number, off: number, len: number, max: number): boolean {
    const slots = this.slots
    const mask4 = this.mask4
    let i = (h1 << 2) & mask4
    for (;;) {
      if (slots[i + 3] === 0) break
      if (slots[i] === h1 && slots[i + 1] === h2) {
        slots[i + 2] = slots[i + 2]! + 1
        return true
      }
      i = (i + 4) & mask4
    }
    if (this.size >= max) return false
    const k = this.size++
    slots[i] = h1
    slots[i + 1] = h2
    slots[i + 2] = 1
    slots[i + 3] = k + 1
    this.off[k] = off
    this.len[k] = len
    return true
  }

  /** Misra-Gries step: every count loses `minus`; entries reaching zero leave. No allocation. */
  decrementAll (minus: number, tmp: Float64Array): void {
    const slots = this.slots
    let n = 0
    for (let i = 0; i < slots.length; i += 4) {
      const e = slots[i + 3]!
      if (e === 0) continue
      const c = (slots[i + 2]! >>> 0) - minus
      if (c <= 0) continue
      tmp[n] = slots[i]!
      tmp[n + 1] = slots[i + 1]!
      tmp[n + 2] = c
      tmp[n + 3] = this.off[e - 1]!
      tmp[n + 4] = this.len[e - 1]!
      n += 5
    }
    slots.fill(0)
    this.size = 0
    for (let p = 0; p < n; p += 5) this.add(tmp[p]!, tmp[p + 1]!, tmp[p + 2]!, tmp[p + 3]!, tmp[p + 4]!)
  }

  /** Every entry in insertion order, as [h1, h2, count, offset, length] quintuples. */
  entries (): Float64Array {
    const out = new Float64Array(this.size * 5)
    const slots = this.slots
    for (let i = 0; i < slots.length; i += 4) {
      const e = slots[i + 3]!
      if (e === 0) continue
      const o = (e - 1) * 5
      out[o] = slots[i]!
      out[o + 1] = slots[i + 1]!
      out[o + 2] = slots[i + 2]! >>> 0
      out[o + 3] = this.off[e - 1]!
      out[o + 4] = this.len[e - 1]!
    }
    return out
  }
}

function capacityFor (n: number): number {
  let c = 256
  while (c < n * 2) c *= 2
  return c
}

/**
 * Positions (multiples of 5) of the `n` entries with the largest counts, ties to the smallest
 * offsets, in that order. Uses native typed-array sorts: this runs on up to `cap` entries.
 */
function topPositions (e: Float64Array, n: number): number[] {
  const size = e.length / 5
  if (size === 0 || n <= 0) return []
  const counts = new Float64Array(size)
  for (let k = 0; k < size; k++) counts[k] = e[k * 5 + 2]!
  counts.sort()
  const threshold = counts[Math.max(0, size - n)]!
  const above: number[] = []
  const tiedOffsets: number[] = []
  for (let p = 0; p < e.length; p += 5) {
    if (e[p + 2]! > threshold) above.push(p)
    else if (e[p + 2] === threshold) tiedOffsets.push(e[p + 3]!)
  }
  const need = Math.min(n - above.length, tiedOffsets.length)
  const tied = Float64Array.from(tiedOffsets).sort()
  const lastOffset = need > 0 ? tied[need - 1]! : -Infinity
  const out = above
  for (let p = 0; p < e.length; p += 5) if (e[p + 2] === threshold && e[p + 3]! <= lastOffset) out.push(p)
  out.sort((a, b) => (e[b + 2]! - e[a + 2]!) || (e[a + 3]! - e[b + 3]!))
  return out.slice(0, n)
}

/** Entries in the Misra-Gries summary once exact counting is over. */
const MG_ENTRIES = 1024

/** Counts distinct values and their frequencies for one column. */
export class ValueCounter {
  /** Distinct values counted exactly before switching to estimates. */
  readonly cap: number
  #table: CountTable
  #hll: HyperLogLog | null = null
  #tmp: Float64Array | undefined

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
      else if (t.size * 2 > (t.mask4 + 1) >> 2) this.#table = this.#rebuilt(this.#table.entries(), capacityFor(t.size), 0)
      return
    }
    this.#hll.add(h1, h2)
    // Misra-Gries step for a value not in the full summary: every counter loses one, zeros leave.
    if (!t.bumpOrInsert(h1, h2, off, len, MG_ENTRIES)) t.decrementAll(1, this.#tmp ??= new Float64Array(MG_ENTRIES * 5))
  }

  #rebuilt (e: Float64Array, capacity: number, minus: number): CountTable {
    const t = new CountTable(capacity)
    for (let p = 0; p < e.length; p += 5) {
      const c = e[p + 2]! - minus
      if (c > 0) t.add(e[p]!, e[p + 1]!, c, e[p + 3]!, e[p + 4]!)
    }
    return t
  }

  #toApproximate (): void {
    const e = this.#table.entries()
    const hll = new HyperLogLog()
    for (let p = 0; p < e.length; p += 5) hll.add(e[p]!, e[p + 1]!)
    this.#hll = hll
    // The most frequent entries (ties: first seen) become the initial Misra-Gries counters.
    const t = new CountTable(capacityFor(MG_ENTRIES))
    for (const p of topPositions(e, MG_ENTRIES)) t.add(e[p]!, e[p + 1]!, e[p + 2]!, e[p + 3]!, e[p + 4]!)
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
    return topPositions(e, n).map((p) => ({ count: e[p + 2]!, offset: e[p + 3]!, length: e[p + 4]! }))
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
    const entries = e.length / 5
    v.#table = v.#rebuilt(e, capacityFor(s.hll === null ? entries : Math.max(entries, MG_ENTRIES)), 0)
    if (s.hll !== null) v.#hll = HyperLogLog.fromBase64(s.hll)
    return v
  }
}
