// What a file is, from its first bytes; and whether the documents type takes it (content and extension agree).

import { extname } from 'node:path'
import { assertText } from '../csv/sniff.ts'

/** Kinds of document told apart by content. */
export type DocumentKind = 'xml' | 'csv' | 'pdf' | 'png' | 'jpeg' | 'other'

/** Bytes of the head that {@link detectKind} needs at most. */
export const DETECT_BYTES = 64 * 1024

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
const PDF = Buffer.from('%PDF-')

/** The kind of a file from its head: magic numbers for PDF, PNG and JPEG; markup for XML; any other text is CSV. */
export function detectKind (head: Buffer): DocumentKind {
  if (head.length >= PNG.length && PNG.every((b, i) => head[i] === b)) return 'png'
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg'
  // Readers accept junk before the header within the first KiB, and so does this.
  const pdf = head.indexOf(PDF)
  if (pdf >= 0 && pdf < 1024) return 'pdf'
  if (!isText(head)) return 'other'
  let i = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0a || head[i] === 0x0d)) i++
  // "<?xml", "<!--" or an element name: markup. A CSV does not start with "<".
  if (head[i] === 0x3c && i + 1 < head.length && /[?!A-Za-z_:]/.test(String.fromCharCode(head[i + 1]!))) return 'xml'
  return head.length === 0 ? 'other' : 'csv'
}

/** File extensions the documents type takes, by the kind their content must be. */
export const EXTENSIONS: Readonly<Record<Exclude<DocumentKind, 'other'>, readonly string[]>> = {
  xml: ['.xml'],
  csv: ['.csv', '.tsv', '.txt'],
  pdf: ['.pdf'],
  png: ['.png'],
  jpeg: ['.jpg', '.jpeg']
}

/** Error code of a file the documents type does not take. */
export const UNSUPPORTED_TYPE = 'UNSUPPORTED_TYPE'

/** The verdict of {@link accepts}. */
export type AcceptVerdict =
  | { ok: true, kind: Exclude<DocumentKind, 'other'> }
  | { ok: false, code: typeof UNSUPPORTED_TYPE, kind: DocumentKind, message: string }

/**
 * Whether the documents type takes a file named `name` whose first bytes are `head`: its content must be one of
 * the supported kinds and its extension one of that kind's. The client's Content-Type plays no part.
 */
export function accepts (name: string, head: Buffer): AcceptVerdict {
  const kind = detectKind(head)
  const ext = extname(name).toLowerCase()
  if (kind === 'other') {
    return { ok: false, code: UNSUPPORTED_TYPE, kind, message: `"${name}": its content is none of XML, CSV, PDF, PNG or JPEG` }
  }
  if (!EXTENSIONS[kind].includes(ext)) {
    const expected = EXTENSIONS[kind].join(', ')
    return { ok: false, code: UNSUPPORTED_TYPE, kind, message: `"${name}": its content is ${kind.toUpperCase()} but its extension is "${ext}" (expected ${expected})` }
  }
  return { ok: true, kind }
}

function isText (head: Buffer): boolean {
  try {
    assertText(head)
    return true
  } catch {
    return false
  }
}
