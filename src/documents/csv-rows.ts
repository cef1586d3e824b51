// Counts the rows of a CSV fed in chunks, with the CSV engine's scanner (quoted newlines are not row ends).

import { RowScanner } from '../csv/scanner.ts'
import type { CsvPreview } from '../csv/sniff.ts'

/** Counts data rows (the header excluded) the way the sniffer reads them: blank lines of a multi-column file skipped. */
export class CsvRowCounter {
  readonly #scanner: RowScanner
  readonly #columns: number
  #pending: Buffer[] = []
  #pendingBytes = 0
  // A row cut by a chunk boundary is rescanned only once the bytes held have doubled: linear even for a huge cell.
  #retryAt = 0
  #skipBom: boolean
  #rows = 0

  constructor (preview: Pick<CsvPreview, 'delimiter' | 'encoding' | 'header'>) {
    this.#scanner = new RowScanner(preview.delimiter.charCodeAt(0))
    this.#columns = preview.header.length
    this.#skipBom = preview.encoding === 'utf-8-bom'
  }

  /** Feeds the next bytes of the file, from its first byte on. */
  push (chunk: Buffer): void {
    this.#pending.push(chunk)
    this.#pendingBytes += chunk.length
    if (this.#pendingBytes >= this.#retryAt) this.#scan(false)
  }

  /** Ends the file; returns the data rows. */
  end (): number {
    this.#scan(true)
    return Math.max(0, this.#rows - 1)
  }

  #scan (eof: boolean): void {
    const buf = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending)
    let p = 0
    if (this.#skipBom && buf.length >= 3) { p = 3; this.#skipBom = false }
    const sc = this.#scanner
    while (p < buf.length) {
      const next = sc.scan(buf, p, buf.length, eof)
      if (next < 0) break
      p = next
      const blank = sc.count === 1 && sc.ends[0] === sc.starts[0]
      if (!blank || (this.#rows > 0 && this.#columns === 1)) this.#rows++
    }
    const rest = buf.subarray(p)
    this.#pending = rest.length > 0 ? [Buffer.from(rest)] : []
    this.#pendingBytes = rest.length
    this.#retryAt = rest.length * 2
  }
}
