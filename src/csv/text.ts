// Decoding of cell bytes to strings. Node's TextDecoder('windows-1252') decodes 0x80–0x9F as
// Latin-1 control characters, so Windows-1252 is decoded here with its own table.

import { FIELD_ESCAPED, QUOTE, type RowScanner } from './scanner.ts'

/** Text encodings the engine reads. */
export type CsvEncoding = 'utf-8' | 'utf-8-bom' | 'windows-1252'

// Windows-1252 code points for bytes 0x80–0x9F (WHATWG mapping; undefined bytes map to C1).
const CP1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178
]

/** Decodes Windows-1252 bytes `b[s, e)`. */
export function decodeWindows1252 (b: Uint8Array, s: number, e: number): string {
  let special = false
  for (let i = s; i < e; i++) {
    const c = b[i]!
    if (c >= 0x80 && c <= 0x9f) { special = true; break }
  }
  if (!special) return Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1')
  const codes = new Array<number>(e - s)
  for (let i = s; i < e; i++) {
    const c = b[i]!
    codes[i - s] = c >= 0x80 && c <= 0x9f ? CP1252_HIGH[c - 0x80]! : c
  }
  let out = ''
  for (let i = 0; i < codes.length; i += 8192) out += String.fromCharCode(...codes.slice(i, i + 8192))
  return out
}

/** Decodes bytes `b[s, e)` in `encoding`. */
export function decodeBytes (b: Buffer, s: number, e: number, encoding: CsvEncoding): string {
  return encoding === 'windows-1252' ? decodeWindows1252(b, s, e) : b.toString('utf8', s, e)
}

/** Decodes field `i` of the scanner's last row (collapsing `""` in quoted cells). */
export function decodeCell (sc: RowScanner, i: number, b: Buffer, encoding: CsvEncoding): string {
  const s = sc.starts[i]!
  const e = sc.ends[i]!
  if (sc.flags[i] !== FIELD_ESCAPED) return decodeBytes(b, s, e, encoding)
  const tmp = Buffer.allocUnsafe(e - s)
  let o = 0
  for (let k = s; k < e; k++) {
    const c = b[k]!
    tmp[o++] = c
    if (c === QUOTE) k++
  }
  return decodeBytes(tmp, 0, o, encoding)
}

/** Decodes one raw cell as it appears in the file (quoted or not). */
export function decodeRawCell (raw: Buffer, encoding: CsvEncoding): string {
  if (raw[0] !== QUOTE) return decodeBytes(raw, 0, raw.length, encoding)
  const end = raw.length >= 2 && raw[raw.length - 1] === QUOTE ? raw.length - 1 : raw.length
  const tmp = Buffer.allocUnsafe(end)
  let o = 0
  for (let k = 1; k < end; k++) {
    const c = raw[k]!
    tmp[o++] = c
    if (c === QUOTE) k++
  }
  return decodeBytes(tmp, 0, o, encoding)
}
