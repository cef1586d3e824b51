// Distinct count and most frequent values of one column, in bounded memory: exact (a hash table
// of value hashes with counts) up to `cap` distinct values, then a HyperLogLog for the distinct
// count and a Misra-Gries summary (counts are lower bounds) for the most frequent values.
// Values are never kept as strings: each entry remembers where its first occurrence is in the
// file (byte offset and raw length) so the few values that are reported can be read back.

import { capacityFor, CountTable } from './count-table.ts'
import { HyperLogLog, MAX_PRECISION, MIN_PRECISION } from './hll.ts'
import type { TableArena } from './table-arena.ts'

/** Where a counted value first occurs in the file, and how often it was counted. */
export interface CountedValue { count: number, offset: number, length: number }

/** JSON-serializable state of a `ValueCounter`. */
export interface ValueCounterState {
  /** Entries in insertion order, as base64 of a Float64Array of [h1, h2, count, offset, length]. */
  entries: string
  /** HyperLogLog registers (base64) once the exact phase is over, else null. */
  hll: string | null
}

/** A HyperLogLog of 2^`precision` registers holding every value of `t` (its registers in `arena` if given). */
function hllOf (t: CountTable, precision: number, arena?: TableArena): HyperLogLog {
  const hll = arena === undefined ? new HyperLogLog(undefined, precision) : HyperLogLog.inArena(arena, precision)
  const slots = t.slots
  for (let k = 0; k < t.size; k++) {
    const i = t.slotOf[k]!
    hll.add(slots[i]!, slots[i + 1]!)
  }
  return hll
}

/** Entries in the Misra-Gries summary once exact counting is over (fewer below a cap of 4,096, see `mgEntriesFor`). */
const MG_ENTRIES = 1024

/** Bytes the HyperLogLog sketches of all columns of a very wide file may take together. */
const SKETCH_BUDGET_BYTES = 32 * 1024 * 1024
/**
 * Bytes the Misra-Gries tables of all columns of a very wide file may take together (~57 bytes per entry): 1,024
 * entries up to ~860 columns; 30,000 columns get 29, whose table fits 64 slots (39 would need 128, twice the memory).
 */
const MG_BUDGET_BYTES = 48 * 1024 * 1024

// Scratch of the Misra-Gries decrement, shared by every counter of the thread (it is used within one call only):
// one per column would be 1.5 KB each, 45 MB for 30,000 columns.
const scratch = new Float64Array(MG_ENTRIES * 5)

/**
 * HyperLogLog precision of each column of a file of `columns` columns: the full 2^15 registers up to ~1,000 columns,
 * fewer beyond so that all sketches stay within SKETCH_BUDGET_BYTES (30,000 columns: 2^10, ~3% standard error).
 */
export function hllPrecisionFor (columns: number): number {
  return Math.max(MIN_PRECISION, Math.min(MAX_PRECISION, Math.floor(Math.log2(SKETCH_BUDGET_BYTES / Math.max(1, columns)))))
}

/** Misra-Gries entries of each column of a file of `columns` columns: 1,024, fewer past ~860 columns (at least 16). */
export function mgEntriesFor (columns: number): number {
  return Math.max(16, Math.min(MG_ENTRIES, Math.floor(MG_BUDGET_BYTES / (Math.max(1, columns) * 57))))
}

/** Counts distinct values and their frequencies for one column. */
export class ValueCounter {
  /** Distinct values counted exactly before switching to estimates. */
  readonly cap: number
  #table: CountTable
  #hll: HyperLogLog | null = null

  readonly #precision: number
  readonly #mg: number
  /** Where the tables are allocated when none of them is ever replaced by a larger one (a small cap). */
  readonly #arena: TableArena | undefined

  /**
   * Counts exactly up to `cap` distinct values; its sketches are sized for one of `columns` columns of a file. With
   * `arena`, a counter whose first table is already large enough for its cap (a very wide file's) allocates its
   * tables and sketch there: they are never grown, so nothing of the arena is left unused.
   */
  constructor (cap: number, columns = 1, arena?: TableArena) {
    this.cap = cap
    this.#precision = hllPrecisionFor(columns)
    this.#mg = mgEntriesFor(columns)
    // A small cap (a very wide file) starts small too: the table never grows past what the cap needs.
    const capacity = Math.min(256, capacityFor(cap))
    this.#arena = capacity === capacityFor(cap) ? arena : undefined
    // A table in the arena is never grown: up to 5/8 full (cap 39: 64 slots instead of 128), the same entries.
    this.#table = this.#arena === undefined ? new CountTable(capacity) : new CountTable(capacityFor(Math.ceil((cap + 1) * 0.8)), this.#arena, this.#arenaEntries())
  }

  // Most entries an arena table ever holds: the cap and the one that passes it (exact), or the summary's.
  #arenaEntries (): number {
    return Math.max(this.cap + 1, this.#mg)
  }

  /** The arena the tables are in, if they are (see the constructor). */
  get arena (): TableArena | undefined {
    return this.#arena
  }

  /** True once distinct values passed `cap` (distinct and frequencies are estimates). */
  get approximate (): boolean {
    return this.#hll !== null
  }

  /**
   * Exact phase: if the value is known, counts it and returns its entry (see `kindOf`), else -1
   * (then `insert` it). Estimating: -2 (then `add` it).
   */
  hit (h1: number, h2: number): number {
    return this.#hll === null ? this.#table.hit(h1, h2) : -2
  }

  /** Kind bit recorded for entry `k` (0 if not known), with `numOf` its number. */
  kindOf (k: number): number {
    return this.#table.kinds[k]!
  }

  /** Number recorded for entry `k`. */
  numOf (k: number): number {
    return this.#table.nums[k]!
  }

  /** Records the kind and number of entry `k` (a known value whose kind was not). */
  setKind (k: number, kind: number, num: number): void {
    this.#table.kinds[k] = kind
    this.#table.nums[k] = num
  }

  /** Counts a new value right after `hit` returned -1, with its kind and number. */
  insert (h1: number, h2: number, off: number, len: number, kind: number, num: number): void {
    const t = this.#table
    t.insertAtMiss(h1, h2, off, len, kind, num)
    if (t.size > this.cap) this.#toApproximate()
    // Grow 4x while small: fewer rehashes of the entries on the way to the cap.
    else if (t.size * 2 > t.capacity && this.#arena === undefined) this.#table = t.grown(t.capacity * (t.capacity < 65536 ? 4 : 2))
  }

  /** Counts one value by its hashes; `off`/`len` locate its raw bytes in the file. */
  add (h1: number, h2: number, off: number, len: number): void {
    const t = this.#table
    if (this.#hll === null) {
      if (!t.add(h1, h2, 1, off, len)) return
      if (t.size > this.cap) this.#toApproximate()
      // Grow 4x while small: fewer rehashes of the entries on the way to the cap.
      else if (t.size * 2 > t.capacity && this.#arena === undefined) this.#table = t.grown(t.capacity * (t.capacity < 65536 ? 4 : 2))
      return
    }
    this.#hll.add(h1, h2)
    // Misra-Gries step for a value not in the full summary: every counter loses one, zeros leave.
    if (!t.bumpOrInsert(h1, h2, off, len, this.#mg)) t.decrementAll(1, scratch)
  }

  #toApproximate (): void {
    const old = this.#table
    const slots = old.slots
    this.#hll = hllOf(old, this.#precision, this.#arena)
    // The most frequent entries (ties: first seen) become the initial Misra-Gries counters,
    // inserted in file order to keep entry order = offset order.
    const keep = old.top(this.#mg).sort((a, b) => a - b)
    const capacity = capacityFor(this.#mg)
    // The table must hold the summary at half load; a much larger one is freed for a small one.
    if (old.capacity < capacity || old.capacity > 2 * capacity) {
      const t = new CountTable(capacity, this.#arena, this.#arenaEntries())
      for (const k of keep) {
        const i = old.slotOf[k]!
        t.add(slots[i]!, slots[i + 1]!, slots[i + 2]! >>> 0, old.off[k]!, old.len[k]!)
      }
      this.#table = t
      return
    }
    // A small table (a very wide file's cap) is reused in place: a new one per column, with the old one freed after,
    // left ~3.6 KB holes in the heap for each of 30,000 columns. Same entries in the same order, so the same results.
    let p = 0
    for (const k of keep) {
      const i = old.slotOf[k]!
      scratch[p++] = slots[i]!
      scratch[p++] = slots[i + 1]!
      scratch[p++] = slots[i + 2]! >>> 0
      scratch[p++] = old.off[k]!
      scratch[p++] = old.len[k]!
    }
    old.clear()
    for (let q = 0; q < p; q += 5) old.add(scratch[q]!, scratch[q + 1]!, scratch[q + 2]!, scratch[q + 3]!, scratch[q + 4]!)
  }

  /**
   * Adds the values counted by `o` on the part of the file that follows this one. Below the cap
   * the result is exactly what one counter over both parts holds (entries in first-occurrence
   * order). Past it: the HyperLogLog of the union (the same registers as one counter's, so the
   * same estimate) and the Misra-Gries merge of Agarwal et al. (counters added, then the
   * (k+1)-th largest count taken off every counter), whose counts are lower bounds off by at most
   * rows/(k+1) like one counter's, though not always the same ones.
   */
  merge (o: ValueCounter): void {
    const b = o.#table.entries()
    if (this.#hll === null && o.#hll === null) {
      let t = this.#table
      for (let p = 0; p < b.length; p += 5) {
        t.add(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!)
        if (t.size * 2 > t.capacity) t = t.grown(t.capacity * 2)
      }
      this.#table = t
      if (t.size > this.cap) this.#toApproximate()
      return
    }
    if (this.#hll === null) this.#hll = hllOf(this.#table, this.#precision)
    if (o.#hll !== null) this.#hll.merge(o.#hll)
    else for (let p = 0; p < b.length; p += 5) this.#hll.add(b[p]!, b[p + 1]!)
    const a = this.#table.entries()
    let t = new CountTable(capacityFor((a.length + b.length) / 5))
    for (let p = 0; p < a.length; p += 5) t.add(a[p]!, a[p + 1]!, a[p + 2]!, a[p + 3]!, a[p + 4]!)
    for (let p = 0; p < b.length; p += 5) t.add(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!)
    if (t.size > this.#mg) {
      const counts = new Float64Array(t.size)
      for (let k = 0; k < t.size; k++) counts[k] = t.count(k)
      counts.sort()
      t.decrementAll(counts[t.size - 1 - this.#mg]!, new Float64Array(t.size * 5))
    }
    // Back to a table sized for the summary, entries still in first-occurrence order.
    const kept = t.entries()
    t = new CountTable(capacityFor(this.#mg))
    for (let p = 0; p < kept.length; p += 5) t.add(kept[p]!, kept[p + 1]!, kept[p + 2]!, kept[p + 3]!, kept[p + 4]!)
    this.#table = t
  }

  /** Number of distinct values (exact unless `approximate`). */
  distinct (): number {
    if (this.#hll === null) return this.#table.size
    return Math.max(this.cap + 1, this.#hll.estimate())
  }

  /** The `n` most frequent values, by count then first occurrence. */
  top (n: number): CountedValue[] {
    const t = this.#table
    return t.top(n).map((k) => ({ count: t.count(k), offset: t.off[k]!, length: t.len[k]! }))
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
  static fromState (cap: number, s: ValueCounterState, columns = 1): ValueCounter {
    const buf = Buffer.from(s.entries, 'base64')
    if (buf.length % 40 !== 0) throw new RangeError('bad value counter state')
    const e = new Float64Array(buf.length / 8)
    for (let i = 0; i < e.length; i++) e[i] = buf.readDoubleLE(i * 8)
    const v = new ValueCounter(cap, columns)
    const entries = e.length / 5
    const t = new CountTable(capacityFor(s.hll === null ? entries : Math.max(entries, v.#mg)))
    for (let p = 0; p < e.length; p += 5) t.add(e[p]!, e[p + 1]!, e[p + 2]!, e[p + 3]!, e[p + 4]!)
    v.#table = t
    if (s.hll !== null) {
      v.#hll = HyperLogLog.fromBase64(s.hll)
      if (v.#hll.registers.length !== 1 << v.#precision) throw new RangeError('bad value counter state: a sketch of another size')
    }
    return v
  }
}
