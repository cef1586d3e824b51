// Sniffs a CSV file from its head: binary refusal, encoding, delimiter, header and first rows.

import { isUtf8 } from 'node:buffer'
import { open } from 'node:fs/promises'
import { CsvError, CsvErrorCode } from './errors.ts'
import { RowScanner, LF } from './scanner.ts'
import { decodeCell, type CsvEncoding } from './text.ts'

/** Delimiters the sniffer recognises, in order of preference on ties. */
export const DELIMITERS = [',', ';', '\t', '|'] as const

/** A recognised delimiter. */
export type CsvDelimiter = typeof DELIMITERS[number]

/** What the sniffer learnt from the head of a file. */
export interface CsvPreview {
  /** Field delimiter (`,` when the file has a single column). */
  delimiter: CsvDelimiter
  /** Text encoding; `utf-8-bom` files start with EF BB BF, invalid UTF-8 is taken as Windows-1252. */
  encoding: CsvEncoding
  /** Column names from the first row (empty names become `column_N`, repeats get `_2`, `_3`…). */
  header: string[]
  /** Up to `PREVIEW_ROWS` data rows, decoded. */
  rows: string[][]
  /** File size in bytes. */
  bytes: number
}

/** Bytes read from the head of the file. */
export const SNIFF_BYTES = 64 * 1024
/** Characters of the preview's rows, all cells together, past which no more rows are shown (at least one row is). */
export const PREVIEW_CHARS = 64 * 1024
/** Longest column name (and preview cell) kept, in characters. */
export const MAX_HEADER_CHARS = 256
/** Data rows returned in a preview. */
export const PREVIEW_ROWS = 5
const SNIFF_ROWS = 50

const SIGNATURES: Array<[number[], string]> = [
  [[0x89, 0x50, 0x4e, 0x47], 'a PNG image'],
  [[0xff, 0xd8, 0xff], 'a JPEG image'],
  [[0x47, 0x49, 0x46, 0x38], 'a GIF image'],
  [[0x25, 0x50, 0x44, 0x46], 'a PDF document'],
  [[0x50, 0x4b, 0x03, 0x04], 'a ZIP archive (or an .xlsx/.docx/.ods document)'],
  [[0x1f, 0x8b], 'a gzip archive'],
  [[0xd0, 0xcf, 0x11, 0xe0], 'a legacy Office document (.xls/.doc)'],
  [[0x50, 0x41, 0x52, 0x31], 'a Parquet file'],
  [[0xff, 0xfe], 'UTF-16 text (save it as UTF-8)'],
  [[0xfe, 0xff], 'UTF-16 text (save it as UTF-8)']
]

/** Throws `NOT_CSV` if `head` (the first bytes of a file) is not text. */
export function assertText (head: Buffer): void {
  for (const [sig, what] of SIGNATURES) {
    if (head.length >= sig.length && sig.every((x, i) => head[i] === x)) {
      throw new CsvError(CsvErrorCode.NOT_CSV, `not a CSV file: it looks like ${what}`)
    }
  }
  const nul = head.indexOf(0)
  if (nul >= 0) {
    throw new CsvError(CsvErrorCode.NOT_CSV, `not a CSV file: binary data (NUL byte at offset ${nul})`)
  }
  let control = 0
  for (let i = 0; i < head.length; i++) {
    const c = head[i]!
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c) || c === 0x7f) control++
  }
  if (control > Math.max(8, head.length / 100)) {
    throw new CsvError(CsvErrorCode.NOT_CSV, `not a CSV file: binary data (${control} control bytes in the first ${head.length} bytes)`)
  }
}

/** Encoding of a head of text: BOM, valid UTF-8, or else Windows-1252. */
export function detectEncoding (head: Buffer, complete: boolean): CsvEncoding {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return 'utf-8-bom'
  let end = head.length
  if (!complete) {
    // Drop the last line (or a multi-byte sequence) that the read limit may have cut.
    const lf = head.lastIndexOf(LF)
    if (lf >= 0) end = lf + 1
    else {
      let i = end - 1
      while (i > end - 4 && i >= 0 && (head[i]! & 0xc0) === 0x80) i--
      if (i >= 0 && head[i]! >= 0xc0) end = i
    }
  }
  return isUtf8(head.subarray(0, end)) ? 'utf-8' : 'windows-1252'
}

/** Field counts of up to `SNIFF_ROWS` rows of `b` scanned with `delim`. */
function fieldCounts (b: Buffer, start: number, complete: boolean, delim: number): number[] {
  const sc = new RowScanner(delim)
  const counts: number[] = []
  let p = start
  while (counts.length < SNIFF_ROWS && p < b.length) {
    const next = sc.scan(b, p, b.length, complete)
    if (next < 0) break
    if (!(sc.count === 1 && sc.ends[0] === sc.starts[0])) counts.push(sc.count)
    p = next
  }
  return counts
}

/** Most likely delimiter of the text in `b` from `start`. */
export function detectDelimiter (b: Buffer, start: number, complete: boolean): CsvDelimiter {
  let best: CsvDelimiter = ','
  let bestScore = 0
  let bestFields = 1
  for (const d of DELIMITERS) {
    const counts = fieldCounts(b, start, complete, d.charCodeAt(0))
    if (counts.length === 0) continue
    const freq = new Map<number, number>()
    for (const c of counts) freq.set(c, (freq.get(c) ?? 0) + 1)
    let mode = 1
    let modeFreq = 0
    for (const [c, f] of freq) if (f > modeFreq || (f === modeFreq && c > mode)) { mode = c; modeFreq = f }
    if (mode < 2) continue
    const score = modeFreq / counts.length
    if (score > bestScore || (score === bestScore && mode > bestFields)) {
      best = d
      bestScore = score
      bestFields = mode
    }
  }
  return best
}

/** Column names made non-empty and unique. */
export function normalizeHeader (names: string[]): string[] {
  const seen = new Set<string>()
  return names.map((raw, i) => {
    // A name is shown in every view and result: a header cell of megabytes is cut.
    const base = raw === '' ? `column_${i + 1}` : raw.length > MAX_HEADER_CHARS ? raw.slice(0, MAX_HEADER_CHARS) : raw
    let name = base
    for (let k = 2; seen.has(name); k++) name = `${base}_${k}`
    seen.add(name)
    return name
  })
}

/** Most bytes read to find the header row of a wide file (30,000 columns and more) when SNIFF_BYTES hold no row end. */
export const MAX_SNIFF_BYTES = 16 * 1024 * 1024

/**
 * Sniffs the head of the CSV file at `path`: reads `SNIFF_BYTES`, or up to `MAX_SNIFF_BYTES` while not one line
 * ends in what was read (a very wide header).
 */
export async function sniffCsv (path: string): Promise<CsvPreview> {
  const fh = await open(path, 'r')
  try {
    const bytes = (await fh.stat()).size
    for (let size = SNIFF_BYTES; ; size *= 4) {
      const buf = Buffer.alloc(Math.min(size, bytes))
      let got = 0
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, got)
        if (bytesRead === 0) break
        got += bytesRead
      }
      const head = buf.subarray(0, got)
      const noLineEnd = head.indexOf(0x0a) === -1 && head.indexOf(0x0d) === -1
      if (!noLineEnd || got >= bytes || size >= MAX_SNIFF_BYTES) return sniffBuffer(head, bytes)
    }
  } finally {
    await fh.close()
  }
}

/** Sniffs `head`, the first bytes of a file of `bytes` bytes. */
export function sniffBuffer (head: Buffer, bytes: number): CsvPreview {
  if (bytes === 0 || head.length === 0) throw new CsvError(CsvErrorCode.EMPTY_FILE, 'the file is empty')
  assertText(head)
  const complete = head.length >= bytes
  const encoding = detectEncoding(head, complete)
  const start = encoding === 'utf-8-bom' ? 3 : 0
  const delimiter = detectDelimiter(head, start, complete)
  const sc = new RowScanner(delimiter.charCodeAt(0))
  const rows: string[][] = []
  let header: string[] | null = null
  let p = start
  // The preview goes into every view of the job: its rows stop at PREVIEW_CHARS (a wide file shows fewer).
  let chars = 0
  while (rows.length < PREVIEW_ROWS && p < head.length && chars < PREVIEW_CHARS) {
    const next = sc.scan(head, p, head.length, complete)
    if (next < 0) break
    p = next
    if (sc.count === 1 && sc.ends[0] === sc.starts[0] && (header === null || header.length > 1)) continue
    const cells = Array.from({ length: sc.count }, (_, i) => decodeCell(sc, i, head, encoding))
    if (header === null) {
      header = cells
      continue
    }
    chars += cells.reduce((n, c) => n + c.length, 0)
    if (chars <= PREVIEW_CHARS || rows.length === 0) rows.push(cells.map((c) => c.length > MAX_HEADER_CHARS ? c.slice(0, MAX_HEADER_CHARS) : c))
  }
  if (header === null) {
    if (complete) throw new CsvError(CsvErrorCode.EMPTY_FILE, 'the file has no header row')
    throw new CsvError(CsvErrorCode.NOT_CSV, `not a CSV file: no complete row in the first ${head.length} bytes`)
  }
  return { delimiter, encoding, header: normalizeHeader(header), rows, bytes }
}
