// Width and height of PNG and JPEG images, read from their headers (never decoding pixels).

import type { FileHandle } from 'node:fs/promises'

/** Pixel size of an image. */
export interface ImageSize { width: number, height: number }

/** PNG: the IHDR chunk is first, at a fixed offset. `null` when the header is cut or not IHDR. */
export function pngSize (head: Buffer): ImageSize | null {
  if (head.length < 24 || head.toString('latin1', 12, 16) !== 'IHDR') return null
  return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) }
}

// Start-of-frame markers (baseline, progressive, lossless, arithmetic…); C4, C8 and CC are not frames.
const SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf])
const MAX_SEGMENTS = 10_000

/**
 * JPEG: walks the marker segments to the first start-of-frame, with positional reads (EXIF and thumbnails
 * before it can be large, so the file is not read whole). `null` when there is no frame header.
 */
export async function jpegSize (fh: FileHandle, fileBytes: number): Promise<ImageSize | null> {
  const buf = Buffer.alloc(9)
  let offset = 2
  for (let segments = 0; segments < MAX_SEGMENTS && offset + 4 <= fileBytes; segments++) {
    const { bytesRead } = await fh.read(buf, 0, 9, offset)
    if (bytesRead < 4 || buf[0] !== 0xff) return null
    const marker = buf[1]!
    // Fill bytes (FF FF…) may pad between segments.
    if (marker === 0xff) { offset++; continue }
    // Markers without a length: TEM, RSTn, SOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) { offset += 2; continue }
    if (marker === 0xd9 || marker === 0xda) return null
    const length = buf.readUInt16BE(2)
    if (SOF.has(marker)) return bytesRead < 9 ? null : { width: buf.readUInt16BE(7), height: buf.readUInt16BE(5) }
    offset += 2 + length
  }
  return null
}
