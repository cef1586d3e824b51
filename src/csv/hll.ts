// HyperLogLog with 2^15 registers by default (standard error ~0.57%, so 2% is 3.5 sigma; 32 KB per column), fewer for
// the columns of very wide files (see `hllPrecisionFor`), and Ertl's improved estimator ("New cardinality estimation
// algorithms for HyperLogLog sketches", 2017), which is unbiased over the whole range without empirical bias tables.

import type { TableArena } from './table-arena.ts'

/** Most registers (as a power of two): what every column of a file up to a few hundred columns gets. */
export const MAX_PRECISION = 15
/** Fewest registers (as a power of two): 128 registers, ~9% standard error. */
export const MIN_PRECISION = 7

/** A HyperLogLog sketch fed with the two 32-bit hashes of `hashBytes`. */
export class HyperLogLog {
  /** One byte per register: the highest rank seen (0 = empty). */
  readonly registers: Uint8Array
  readonly #p: number
  readonly #lowMask: number

  /** A sketch of 2^`precision` registers, or of the given ones (their number sets the precision); see `inArena`. */
  constructor (registers?: Uint8Array, precision = MAX_PRECISION) {
    this.registers = registers ?? new Uint8Array(1 << precision)
    this.#p = Math.log2(this.registers.length)
    if (!Number.isInteger(this.#p) || this.#p < MIN_PRECISION || this.#p > MAX_PRECISION) throw new RangeError('bad HyperLogLog size')
    this.#lowMask = (1 << (32 - this.#p)) - 1
  }

  /** Adds one hashed value. */
  add (h1: number, h2: number): void {
    const p = this.#p
    const idx = h1 >>> (32 - p)
    // The rank over the 64 - p hash bits left: the low 32 - p bits of h1, then the 32 bits of h2.
    const low = h1 & this.#lowMask
    const rank = low !== 0 ? Math.clz32(low) - p + 1 : h2 !== 0 ? 33 - p + Math.clz32(h2) : 65 - p
    if (rank > this.registers[idx]!) this.registers[idx] = rank
  }

  /** Adds every value of `o` (register-wise maximum: the sketch of the union). */
  merge (o: HyperLogLog): void {
    const r = this.registers
    const q = o.registers
    if (q.length !== r.length) throw new RangeError('cannot merge HyperLogLog sketches of different sizes')
    for (let i = 0; i < r.length; i++) if (q[i]! > r[i]!) r[i] = q[i]!
  }

  /** Estimated number of distinct values added. */
  estimate (): number {
    const M = this.registers.length
    const Q = 64 - this.#p
    const c = new Float64Array(Q + 2)
    for (let i = 0; i < M; i++) c[this.registers[i]!]!++
    let z = M * tau(1 - c[Q + 1]! / M)
    for (let k = Q; k >= 1; k--) z = 0.5 * (z + c[k]!)
    z += M * sigma(c[0]! / M)
    return Math.round((M / (2 * Math.LN2)) * M / z)
  }

  /** Registers as base64 (for checkpoints). */
  toBase64 (): string {
    return Buffer.from(this.registers.buffer, this.registers.byteOffset, this.registers.byteLength).toString('base64')
  }

  /** An empty sketch of 2^`precision` registers, a view into `arena` (see TableArena). */
  static inArena (arena: TableArena, precision: number): HyperLogLog {
    const { buffer, offset } = arena.take(1 << precision)
    return new HyperLogLog(new Uint8Array(buffer, offset, 1 << precision))
  }

  /** Sketch restored from `toBase64` output. */
  static fromBase64 (s: string): HyperLogLog {
    return new HyperLogLog(new Uint8Array(Buffer.from(s, 'base64')))
  }
}

function sigma (x: number): number {
  if (x === 1) return Infinity
  let y = 1
  let z = x
  for (;;) {
    x *= x
    const prev = z
    z += x * y
    y += y
    if (z === prev) return z
  }
}

function tau (x: number): number {
  if (x === 0 || x === 1) return 0
  let y = 1
  let z = 1 - x
  for (;;) {
    x = Math.sqrt(x)
    const prev = z
    y *= 0.5
    z -= (1 - x) ** 2 * y
    if (z === prev) return z / 3
  }
}
