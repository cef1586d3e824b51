// Two independent 32-bit hashes of a byte range, used for distinct counting without keeping strings.

/** Scratch output of `hashBytes`: [0] h1, [1] h2, [2] UTF-8 continuation bytes seen. */
export const hashOut = new Int32Array(3)

function fmix (h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/** Hashes `b[s, e)` into `hashOut` (FNV-1a variants with murmur3 finalizers). */
export function hashBytes (b: Buffer, s: number, e: number): void {
  let h1 = 0x811c9dc5 ^ (e - s)
  // `| 0`: the seed as an int32, or the loop's phi is a double converted on every byte.
  let h2 = 0x9747b28c | 0
  let cont = 0
  for (let i = s; i < e; i++) {
    const c = b[i]!
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x5bd1e995)
    if ((c & 0xc0) === 0x80) cont++
  }
  hashOut[0] = fmix(h1)
  hashOut[1] = fmix(h2 ^ 0x27d4eb2d)
  hashOut[2] = cont
}
