// Page count of a PDF from its page tree, without a PDF library: plain objects and compressed object streams.

import { inflateSync } from 'node:zlib'

// Largest decompressed object stream read (object streams hold small dictionaries, not page content).
const MAX_OBJSTM_BYTES = 16 * 1024 * 1024

const OBJECT = /(\d+)\s+(\d+)\s+obj\b([\s\S]*?)\bendobj\b/g
const PAGES = /\/Type\s*\/Pages(?![A-Za-z])/
const PAGE = /\/Type\s*\/Page(?![A-Za-z])/g
const COUNT = /\/Count\s+(\d+)/

/**
 * Pages of the PDF in `pdf`: the largest `/Count` of a `/Type /Pages` node (the root of the page tree counts every
 * page), looking inside FlateDecode object streams too; failing that, the `/Type /Page` objects. `null` if neither.
 */
export function pdfPageCount (pdf: Buffer): number | null {
  const text = pdf.toString('latin1')
  let best = -1
  let leaves = 0
  const visit = (body: string): void => {
    if (PAGES.test(body)) {
      const count = COUNT.exec(body)
      if (count !== null) best = Math.max(best, Number(count[1]))
    }
    leaves += body.match(PAGE)?.length ?? 0
  }
  for (const match of text.matchAll(OBJECT)) {
    const body = match[3]!
    if (/\/Type\s*\/ObjStm\b/.test(body)) {
      for (const inner of objectStreamObjects(pdf, match.index + match[0].indexOf(body), body)) visit(inner)
    } else {
      // The stream content of an ordinary object (page drawing) is not dictionaries: only the head is looked at.
      const streamAt = body.indexOf('stream')
      visit(streamAt < 0 ? body : body.slice(0, streamAt))
    }
  }
  if (best >= 0) return best
  return leaves > 0 ? leaves : null
}

/** The objects packed in one object stream (`/Type /ObjStm`), decompressed; none when it cannot be read. */
function objectStreamObjects (pdf: Buffer, bodyOffset: number, body: string): string[] {
  const start = /stream\r?\n/.exec(body)
  const end = body.lastIndexOf('endstream')
  if (start === null || end < 0 || !/\/Filter\s*\/FlateDecode\b/.test(body.slice(0, start.index))) return []
  const first = /\/First\s+(\d+)/.exec(body.slice(0, start.index))
  const n = /\/N\s+(\d+)/.exec(body.slice(0, start.index))
  if (first === null || n === null) return []
  let data: string
  try {
    const raw = pdf.subarray(bodyOffset + start.index + start[0].length, bodyOffset + end)
    data = inflateSync(raw, { maxOutputLength: MAX_OBJSTM_BYTES, finishFlush: 2 /* Z_SYNC_FLUSH: tolerate EOL before endstream */ }).toString('latin1')
  } catch {
    return []
  }
  const header = data.slice(0, Number(first[1])).trim().split(/\s+/).map(Number)
  const offsets: number[] = []
  for (let i = 1; i < header.length && offsets.length < Number(n[1]); i += 2) offsets.push(Number(first[1]) + header[i]!)
  return offsets.map((at, i) => data.slice(at, offsets[i + 1] ?? data.length))
}
