// One document inspected in one streamed pass: kind, size, SHA-256, and what its kind tells (CSV shape, pages, pixels, CFDI).

import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { CsvError } from '../csv/errors.ts'
import { sniffBuffer, SNIFF_BYTES, type CsvDelimiter } from '../csv/sniff.ts'
import type { CsvEncoding } from '../csv/text.ts'
import { PermanentError } from '../errors.ts'
import { CFDI_MAX_BYTES, CfdiByteReader, CfdiErrorCode, type CfdiFields } from './cfdi.ts'
import { CsvRowCounter } from './csv-rows.ts'
import { DETECT_BYTES, detectKind, type DocumentKind } from './detect.ts'
import { jpegSize, pngSize } from './image-size.ts'
import { pdfPageCount } from './pdf-pages.ts'

/** What a CSV document looks like. */
export interface CsvShape {
  delimiter: CsvDelimiter
  encoding: CsvEncoding
  /** Data rows, the header excluded. */
  rows: number
  columns: number
  header: string[]
}

/** What {@link inspectDocument} finds; the kind-specific fields are present only for their kind. */
export interface DocumentInspection {
  kind: DocumentKind
  bytes: number
  /** Lower-case hex SHA-256 of the whole file. */
  sha256: string
  csv?: CsvShape
  /** PDF pages; `null` when the page tree cannot be read (or the PDF is larger than `maxPdfBytes`). */
  pages?: number | null
  /** PNG/JPEG pixel size; `null` when the header cannot be read. */
  width?: number | null
  height?: number | null
  cfdi?: CfdiFields
}

/** Options of {@link inspectDocument}. */
export interface InspectOptions {
  /** Largest XML read (default 10 MiB); past it XML_TOO_LARGE. */
  maxXmlBytes?: number
  /** Largest PDF whose pages are counted (it is held in memory; default 64 MiB). */
  maxPdfBytes?: number
  signal?: AbortSignal
}

/**
 * Inspects the file at `path` (`name` is used in messages). Every file gets its kind, size and SHA-256 from one read;
 * a CSV its shape, a PDF its pages, an image its size; an XML must be a CFDI (MALFORMED_XML, NOT_CFDI, XML_* otherwise).
 */
export async function inspectDocument (path: string, name: string, options: InspectOptions = {}): Promise<DocumentInspection> {
  const fh = await open(path, 'r')
  try {
    const bytes = (await fh.stat()).size
    const head = Buffer.alloc(Math.min(bytes, Math.max(DETECT_BYTES, SNIFF_BYTES)))
    const { bytesRead } = await fh.read(head, 0, head.length, 0)
    const kind = detectKind(head.subarray(0, bytesRead))
    const result: DocumentInspection = { kind, bytes, sha256: '' }

    const maxXmlBytes = options.maxXmlBytes ?? CFDI_MAX_BYTES
    if (kind === 'xml' && bytes > maxXmlBytes) throw new PermanentError(CfdiErrorCode.XML_TOO_LARGE, `"${name}" is ${bytes} bytes, more than the ${maxXmlBytes} bytes an XML may have`)
    let onChunk: ((chunk: Buffer) => void) | undefined
    let finish: (() => void) | undefined
    if (kind === 'xml') {
      const reader = new CfdiByteReader()
      onChunk = (chunk) => { reader.write(chunk) }
      finish = () => { result.cfdi = reader.close() }
    } else if (kind === 'csv') {
      const preview = sniffCsvHead(head.subarray(0, bytesRead), bytes, name)
      const counter = new CsvRowCounter(preview)
      onChunk = (chunk) => { counter.push(chunk) }
      finish = () => {
        result.csv = { delimiter: preview.delimiter, encoding: preview.encoding, rows: counter.end(), columns: preview.header.length, header: preview.header }
      }
    } else if (kind === 'pdf' && bytes <= (options.maxPdfBytes ?? 64 * 1024 * 1024)) {
      const chunks: Buffer[] = []
      onChunk = (chunk) => { chunks.push(chunk) }
      finish = () => { result.pages = pdfPageCount(Buffer.concat(chunks)) }
    } else if (kind === 'pdf') {
      result.pages = null
    } else if (kind === 'png' || kind === 'jpeg') {
      const size = kind === 'png' ? pngSize(head.subarray(0, bytesRead)) : await jpegSize(fh, bytes)
      result.width = size?.width ?? null
      result.height = size?.height ?? null
    }

    const hash = createHash('sha256')
    const stream = createReadStream(path, { highWaterMark: 64 * 1024, signal: options.signal })
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hash.update(chunk)
        onChunk?.(chunk)
      }
    } finally {
      stream.destroy()
    }
    finish?.()
    result.sha256 = hash.digest('hex')
    return result
  } finally {
    await fh.close()
  }
}

function sniffCsvHead (head: Buffer, bytes: number, name: string): ReturnType<typeof sniffBuffer> {
  try {
    return sniffBuffer(head, bytes)
  } catch (err) {
    if (err instanceof CsvError) throw new PermanentError(err.code, `"${name}": ${err.message}`)
    throw err
  }
}
