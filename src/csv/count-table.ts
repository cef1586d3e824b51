// Open-addressing hash table of value hashes → counts, with each entry's first file offset, raw
// length, kind and number kept aside in insertion (= file) order. The storage of `ValueCounter`.

import type { TableArena } from './table-arena.ts'

const HIST = 4096

/**
 * Open-addressing table of (h1, h2) → count. The hot fields share one 16-byte slot so a probe
 * touches one cache line; each entry's first offset and raw length are kept aside, in insertion
 * order — which is also file order, so ties between equal counts go to the earlier entry.
 */
export class CountTable {
  mask4: number
  size = 0
  /** Per slot: h1, h2, count (uint32), entry index + 1 (0 = empty slot). */
  slots: Int32Array
  /** Per entry, in insertion order: its slot, first offset and raw length. */
  slotOf: Int32Array
  off: Float64Array
  len: Int32Array
  /**
   * Per entry: the kind bit of the value and its number (for integers and numbers), so that a
   * value seen again is not classified or parsed again. 0 = not known (restored from a checkpoint).
   */
  kinds: Uint8Array
  nums: Float64Array
  /** Slot where the last missed `hit` would insert. */
  miss = 0

  /**
   * A table of `capacity` slots (a power of two); with `arena`, its arrays are views into it (see TableArena), for at
   * most `maxEntries` entries (a table that is never grown holds fewer than half its slots).
   */
  constructor (capacity: number, arena?: TableArena, maxEntries = capacity >> 1) {
    this.mask4 = capacity * 4 - 1
    // One spare entry: the table is grown right after the add that crosses half full.
    const entries = (arena === undefined ? capacity >> 1 : Math.min(capacity >> 1, maxEntries)) + 1
    if (arena === undefined) {
      this.slots = new Int32Array(capacity * 4)
      this.slotOf = new Int32Array(entries)
      this.off = new Float64Array(entries)
      this.len = new Int32Array(entries)
      this.kinds = new Uint8Array(entries)
      this.nums = new Float64Array(entries)
      return
    }
    // 8-byte arrays first after the slots (16 bytes each), then the 4-byte ones, then the bytes: all aligned.
    const { buffer, offset } = arena.take(capacity * 16 + entries * 25)
    let at = offset
    this.slots = new Int32Array(buffer, at, capacity * 4)
    at += capacity * 16
    this.off = new Float64Array(buffer, at, entries)
    at += entries * 8
    this.nums = new Float64Array(buffer, at, entries)
    at += entries * 8
    this.slotOf = new Int32Array(buffer, at, entries)
    at += entries * 4
    this.len = new Int32Array(buffer, at, entries)
    at += entries * 4
    this.kinds = new Uint8Array(buffer, at, entries)
  }

  /** Counts one more occurrence of an existing entry and returns its index, or -1 (and remembers where it would go). */
  hit (h1: number, h2: number): number {
    const slots = this.slots
    const mask4 = this.mask4
    let i = (h1 << 2) & mask4
    for (;;) {
      const e = slots[i + 3]!
      if (e === 0) { this.miss = i; return -1 }
      if (slots[i] === h1 && slots[i + 1] === h2) {
        slots[i + 2] = slots[i + 2]! + 1
        return e - 1
      }
      i = (i + 4) & mask4
    }
  }

  /** Inserts a new entry with count 1 where the last `hit` missed; returns its index. */
  insertAtMiss (h1: number, h2: number, off: number, len: number, kind: number, num: number): number {
    const i = this.miss
    const k = this.size++
    const slots = this.slots
    slots[i] = h1
    slots[i + 1] = h2
    slots[i + 2] = 1
    slots[i + 3] = k + 1
    this.slotOf[k] = i
    this.off[k] = off
    this.len[k] = len
    this.kinds[k] = kind
    this.nums[k] = num
    return k
  }

  get capacity (): number {
    return (this.mask4 + 1) >> 2
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
        this.slotOf[k] = i
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
    this.slotOf[k] = i
    this.off[k] = off
    this.len[k] = len
    return true
  }

  /** Empties the table, keeping its arrays. */
  clear (): void {
    this.slots.fill(0)
    this.kinds.fill(0)
    this.size = 0
  }

  /** Count of entry `k`. */
  count (k: number): number {
    return this.slots[this.slotOf[k]! + 2]! >>> 0
  }

  /** The same entries in a table of `capacity` slots (entry indices kept). */
  grown (capacity: number): CountTable {
    const t = new CountTable(capacity)
    const src = this.slots
    const dst = t.slots
    const mask4 = t.mask4
    for (let k = 0; k < this.size; k++) {
      const s = this.slotOf[k]!
      let i = (src[s]! << 2) & mask4
      while (dst[i + 3] !== 0) i = (i + 4) & mask4
      dst[i] = src[s]!
      dst[i + 1] = src[s + 1]!
      dst[i + 2] = src[s + 2]!
      dst[i + 3] = k + 1
      t.slotOf[k] = i
    }
    t.off.set(this.off.subarray(0, this.size))
    t.len.set(this.len.subarray(0, this.size))
    t.kinds.set(this.kinds.subarray(0, this.size))
    t.nums.set(this.nums.subarray(0, this.size))
    t.size = this.size
    return t
  }

  /**
   * Misra-Gries step: every count loses `minus`; entries reaching zero leave, the others keep
   * their order. No allocation (`tmp` holds at least 3 numbers per entry).
   */
  decrementAll (minus: number, tmp: Float64Array): void {
    const slots = this.slots
    const slotOf = this.slotOf
    const off = this.off
    const len = this.len
    const size = this.size
    let n = 0
    // Survivors move to the front of the entry arrays (n <= k); every used slot is emptied.
    for (let k = 0; k < size; k++) {
      const i = slotOf[k]!
      slots[i + 3] = 0
      const c = (slots[i + 2]! >>> 0) - minus
      if (c <= 0) continue
      const t = n * 3
      tmp[t] = slots[i]!
      tmp[t + 1] = slots[i + 1]!
      tmp[t + 2] = c
      off[n] = off[k]!
      len[n] = len[k]!
      n++
    }
    const mask4 = this.mask4
    for (let k = 0; k < n; k++) {
      const t = k * 3
      const h1 = tmp[t]!
      let i = (h1 << 2) & mask4
      while (slots[i + 3] !== 0) i = (i + 4) & mask4
      slots[i] = h1
      slots[i + 1] = tmp[t + 1]!
      slots[i + 2] = tmp[t + 2]!
      slots[i + 3] = k + 1
      slotOf[k] = i
    }
    this.size = n
  }

  /** Entry indices of the `n` largest counts (ties: earlier entry), largest first. Linear time. */
  top (n: number): number[] {
    if (n <= 0 || this.size === 0) return []
    const hist = new Uint32Array(HIST)
    for (let k = 0; k < this.size; k++) hist[Math.min(this.count(k), HIST - 1)]!++
    let t = HIST - 1
    let acc = hist[t]!
    while (acc < n && t > 1) acc += hist[--t]!
    const out: number[] = []
    let ties = n
    for (let k = 0; k < this.size; k++) if (this.count(k) > t) { out.push(k); ties-- }
    for (let k = 0; k < this.size && ties > 0; k++) if (this.count(k) === t) { out.push(k); ties-- }
    out.sort((a, b) => (this.count(b) - this.count(a)) || (a - b))
    return out.slice(0, n)
  }

  /** Every entry in insertion order, as [h1, h2, count, offset, length] quintuples. */
  entries (): Float64Array {
    const out = new Float64Array(this.size * 5)
    const slots = this.slots
    for (let k = 0; k < this.size; k++) {
      const i = this.slotOf[k]!
      const o = k * 5
      out[o] = slots[i]!
      out[o + 1] = slots[i + 1]!
      out[o + 2] = slots[i + 2]! >>> 0
      out[o + 3] = this.off[k]!
      out[o + 4] = this.len[k]!
    }
    return out
  }
}

/** Table capacity (a power of two, at least 64) for `n` entries at most half full. */
export function capacityFor (n: number): number {
  let c = 64
  while (c < n * 2) c *= 2
  return c
}
