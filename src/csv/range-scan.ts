// The read loop of a profile over one byte range of a file: reads into a growing buffer, feeds
// whole rows to a RowProcessor, and stops at the first row that starts at or after `stopAt`.
// Shared by the single-threaded profile (one range, the whole file) and the range workers.

import type { FileHandle } from 'node:fs/promises'
import type { RowProcessor } from './row-processor.ts'

/** Data rows between two abort / control checks. */
export const ABORT_CHECK_ROWS = 1024

/** Settings of `scanRange`. */
export interface RangeScanOptions {
  /** File offset of the first row (a row boundary). */
  start: number
  /** Rows starting at or after this offset are left to the next range (the file size for the last). */
  stopAt: number
  /** File size. */
  size: number
  /** First read buffer size in bytes (it grows for longer rows, up to `maxRowBytes`). */
  bufferBytes: number
  /** A row (an unclosed quote) longer than this is malformed and skipped to the next line. */
  maxRowBytes: number
  /** Data rows per chunk: `onChunk` after each, and once at the end. */
  chunkRows: number
  /** Yield to the event loop (setImmediate) after this many ms of work; Infinity never. */
  yieldEveryMs: number
  /** Stops the scan (within `ABORT_CHECK_ROWS` rows or at the next read) by throwing its reason. */
  signal?: AbortSignal
  /** Called at the row boundary `at` after every chunk; the scan waits for a returned promise. */
  onChunk?: (at: number) => void | Promise<void>
  /** Called at the row boundary `at` every `ABORT_CHECK_ROWS` rows (synchronous control checks). */
  poll?: (at: number) => void
}

/** Profiles the rows of `fh` from `o.start` on into `proc`; resolves with the offset after the last row taken. */
export async function scanRange (fh: FileHandle, proc: RowProcessor, o: RangeScanOptions): Promise<number> {
  const { signal, onChunk, poll, chunkRows, maxRowBytes, stopAt, yieldEveryMs } = o
  if (o.start >= stopAt) return o.start
  // Buffers grow by doubling up to exactly maxRowBytes, so the long-row limit is the same in
  // every range whatever its first buffer size.
  let buf = Buffer.allocUnsafe(Math.max(16, Math.min(o.bufferBytes, o.size - o.start + 1)))
  let base = o.start
  let len = 0
  let p = 0
  let eof = false
  let inChunk = 0
  let lastYield = performance.now()
  for (;;) {
    if (!eof) {
      if (p > 0) {
        buf.copyWithin(0, p, len)
        base += p
        len -= p
        p = 0
      }
      if (len === buf.length) {
        if (buf.length < maxRowBytes) {
          const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, maxRowBytes))
          buf.copy(bigger, 0, 0, len)
          buf = bigger
        } else {
          // A row longer than maxRowBytes: an unclosed quote. Count it and go on at the next line.
          p = proc.skipLongRow(buf, len)
          continue
        }
      }
      const { bytesRead } = await fh.read(buf, len, buf.length - len, base + len)
      if (bytesRead === 0) eof = true
      len += bytesRead
      signal?.throwIfAborted()
    }
    for (;;) {
      const want = Math.min(chunkRows - inChunk, ABORT_CHECK_ROWS)
      p = proc.process(buf, p, len, eof, base, want, stopAt - base)
      inChunk += proc.consumed
      if (performance.now() - lastYield >= yieldEveryMs) {
        await new Promise<void>((resolve) => setImmediate(resolve))
        lastYield = performance.now()
      }
      signal?.throwIfAborted()
      poll?.(base + p)
      if (inChunk >= chunkRows) {
        inChunk = 0
        await onChunk?.(base + p)
        signal?.throwIfAborted()
      }
      if (proc.consumed < want) break
    }
    if ((eof && p >= len) || base + p >= stopAt) break
  }
  if (inChunk > 0) await onChunk?.(base + p)
  signal?.throwIfAborted()
  return base + p
}
