// Where a parallel profile splits a file: guessed row starts, and how many ranges fit the memory budget.

import { open } from 'node:fs/promises'
import { capacityFor } from './count-table.ts'

/**
 * Bytes of one column's exact table at `cap` entries (16-byte slots at most half full, plus 25 bytes per entry), as
 * the table grows there (from 256 slots, or fewer for a small cap; 4x at a time while small).
 */
export function tableBytes (cap: number): number {
  let c = Math.min(256, capacityFor(cap))
  while (c < cap * 2) c *= c < 65536 ? 4 : 2
  return c * 16 + (c / 2) * 25
}

/**
 * Guessed starts of `n` ranges of `[dataStart, size)`: the byte after the first LF at or after
 * each split point (a true row start unless the LF is inside a quoted field; the profile verifies).
 */
export async function guessRangeStarts (path: string, dataStart: number, size: number, n: number): Promise<number[]> {
  const starts = [dataStart]
  if (n <= 1) return starts
  const fh = await open(path, 'r')
  try {
    const buf = Buffer.allocUnsafe(1 << 16)
    for (let k = 1; k < n; k++) {
      const at = dataStart + Math.floor(k * (size - dataStart) / n)
      let s = size
      for (let pos = at - 1; pos < size; pos += buf.length) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos)
        if (bytesRead === 0) break
        const i = buf.subarray(0, bytesRead).indexOf(0x0a)
        if (i >= 0) { s = pos + i + 1; break }
      }
      if (s > starts.at(-1)! && s < size) starts.push(s)
    }
    return starts
  } finally {
    await fh.close()
  }
}
