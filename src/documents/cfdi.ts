// CFDI 3.3 / 4.0 (Mexican e-invoice) fields, read with a streaming, namespace-aware XML parser.

import { createReadStream } from 'node:fs'
import { TextDecoder } from 'node:util'
import { SaxesParser, type SaxesTagNS } from 'saxes'
import { PermanentError } from '../errors.ts'

/** The fields of one CFDI, string values exactly as written in the document (`null` when absent). */
export interface CfdiFields {
  version: string | null
  uuid: string | null
  fecha: string | null
  fechaTimbrado: string | null
  emisorRfc: string | null
  emisorNombre: string | null
  receptorRfc: string | null
  receptorNombre: string | null
  subtotal: string | null
  total: string | null
  moneda: string | null
  tipoDeComprobante: string | null
}

/** Error codes of CFDI extraction. */
export const CfdiErrorCode = {
  /** Not well-formed XML (or not UTF-8). */
  MALFORMED_XML: 'MALFORMED_XML',
  /** Well-formed XML whose root is not a cfdi:Comprobante of version 3 or 4. */
  NOT_CFDI: 'NOT_CFDI',
  /** The document has a DOCTYPE: refused, so no entity is ever declared or expanded. */
  XML_DOCTYPE_NOT_ALLOWED: 'XML_DOCTYPE_NOT_ALLOWED',
  /** The document is larger than the cap. */
  XML_TOO_LARGE: 'XML_TOO_LARGE'
} as const

/** CFDI namespaces, by the version they carry. */
export const CFDI_NAMESPACES: Readonly<Record<string, string>> = {
  'http://www.sat.gob.mx/cfd/3': '3',
  'http://www.sat.gob.mx/cfd/4': '4'
}
/** Namespace of the stamp (`tfd:TimbreFiscalDigital`) that carries the UUID. */
export const TFD_NAMESPACE = 'http://www.sat.gob.mx/TimbreFiscalDigital'

/** Largest CFDI read by default, in bytes (real invoices are a few KB; addenda can make them a few MB). */
export const CFDI_MAX_BYTES = 10 * 1024 * 1024

/**
 * Collects CFDI fields from XML text written in chunks. Refuses any DOCTYPE before the parser sees it, so an
 * entity-expansion attack costs one scan of the prolog. A well-formed document whose root is not a CFDI
 * Comprobante is NOT_CFDI at `close()`.
 */
export class CfdiReader {
  readonly #parser = new SaxesParser({ xmlns: true, position: false })
  readonly #fields: CfdiFields = emptyFields()
  // Open elements: each entry says what the element is, so that only the right nesting is read.
  readonly #stack: string[] = []
  #rootSeen = false
  #cfdiUri = ''
  #notCfdi: string | undefined
  #prologTail = ''
  #error: PermanentError | undefined

  constructor () {
    const p = this.#parser
    p.on('error', (err) => { throw this.#error ?? new PermanentError(CfdiErrorCode.MALFORMED_XML, `not well-formed XML: ${err.message}`) })
    p.on('doctype', () => { throw this.#fail(CfdiErrorCode.XML_DOCTYPE_NOT_ALLOWED, 'the XML has a DOCTYPE; documents with a DOCTYPE are refused') })
    p.on('opentag', (tag) => { this.#open(tag) })
    p.on('closetag', () => { this.#stack.pop() })
  }

  /** Feeds the next piece of text; throws a PermanentError (MALFORMED_XML, XML_DOCTYPE_NOT_ALLOWED) at once. */
  write (text: string): void {
    if (!this.#rootSeen) {
      // A DOCTYPE can only come before the root element: look for it in the raw text, across chunk boundaries.
      const window = this.#prologTail + text
      if (window.includes('<!DOCTYPE')) throw this.#fail(CfdiErrorCode.XML_DOCTYPE_NOT_ALLOWED, 'the XML has a DOCTYPE; documents with a DOCTYPE are refused')
      this.#prologTail = window.slice(-8)
    }
    this.#run(() => this.#parser.write(text))
  }

  /** Ends the document and returns its fields; throws MALFORMED_XML if it is cut off, NOT_CFDI if it had no root. */
  close (): CfdiFields {
    this.#run(() => this.#parser.close())
    if (!this.#rootSeen) throw this.#fail(CfdiErrorCode.MALFORMED_XML, 'not well-formed XML: no root element')
    if (this.#notCfdi !== undefined) throw this.#fail(CfdiErrorCode.NOT_CFDI, this.#notCfdi)
    return this.#fields
  }

  #run (fn: () => unknown): void {
    if (this.#error !== undefined) throw this.#error
    try {
      fn()
    } catch (err) {
      throw this.#error ?? (err instanceof PermanentError ? err : this.#fail(CfdiErrorCode.MALFORMED_XML, `not well-formed XML: ${(err as Error).message}`))
    }
  }

  #fail (code: string, message: string): PermanentError {
    this.#error ??= new PermanentError(code, message)
    return this.#error
  }

  #open (tag: SaxesTagNS): void {
    const parent = this.#stack[this.#stack.length - 1]
    const attr = (name: string): string | null => {
      const a = tag.attributes[name]
      return a !== undefined && a.uri === '' ? a.value : null
    }
    let role = 'other'
    if (!this.#rootSeen) {
      this.#rootSeen = true
      const version = CFDI_NAMESPACES[tag.uri]
      if (tag.local !== 'Comprobante' || version === undefined) {
        // Parsing goes on: a malformed document is MALFORMED_XML whatever its root, so NOT_CFDI waits for the end.
        this.#notCfdi = `not a CFDI: the root element is {${tag.uri}}${tag.local}, not a Comprobante of ${Object.keys(CFDI_NAMESPACES).join(' or ')}`
        this.#stack.push('other')
        return
      }
      role = 'comprobante'
      const f = this.#fields
      f.version = attr('Version') ?? attr('version')
      f.fecha = attr('Fecha')
      f.subtotal = attr('SubTotal')
      f.total = attr('Total')
      f.moneda = attr('Moneda')
      f.tipoDeComprobante = attr('TipoDeComprobante')
      this.#cfdiUri = tag.uri
    } else if (parent === 'comprobante' && tag.uri === this.#cfdiUri) {
      if (tag.local === 'Emisor') {
        this.#fields.emisorRfc = attr('Rfc')
        this.#fields.emisorNombre = attr('Nombre')
      } else if (tag.local === 'Receptor') {
        this.#fields.receptorRfc = attr('Rfc')
        this.#fields.receptorNombre = attr('Nombre')
      } else if (tag.local === 'Complemento') {
        role = 'complemento'
      }
    } else if (parent === 'complemento' && tag.uri === TFD_NAMESPACE && tag.local === 'TimbreFiscalDigital' && this.#fields.uuid === null) {
      this.#fields.uuid = attr('UUID')
      this.#fields.fechaTimbrado = attr('FechaTimbrado')
    }
    // A self-closing tag gets its closetag event too, so the stack stays balanced.
    this.#stack.push(role)
  }
}

/** Extracts the CFDI fields of an XML document held in memory. */
export function extractCfdi (xml: string | Uint8Array, options: { maxBytes?: number } = {}): CfdiFields {
  const maxBytes = options.maxBytes ?? CFDI_MAX_BYTES
  const size = typeof xml === 'string' ? Buffer.byteLength(xml) : xml.byteLength
  if (size > maxBytes) throw new PermanentError(CfdiErrorCode.XML_TOO_LARGE, `the XML is ${size} bytes, more than the ${maxBytes} read`)
  const reader = new CfdiReader()
  reader.write(typeof xml === 'string' ? stripBom(xml) : decodeUtf8(xml))
  return reader.close()
}

/** Extracts the CFDI fields of the XML file at `path`, streamed (never more than one chunk in memory). */
export async function extractCfdiFile (path: string, options: { maxBytes?: number } = {}): Promise<CfdiFields> {
  const maxBytes = options.maxBytes ?? CFDI_MAX_BYTES
  const reader = new CfdiByteReader()
  let size = 0
  const stream = createReadStream(path, { highWaterMark: 64 * 1024 })
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > maxBytes) throw new PermanentError(CfdiErrorCode.XML_TOO_LARGE, `the XML is larger than the ${maxBytes} bytes read`)
      reader.write(chunk)
    }
  } finally {
    stream.destroy()
  }
  return reader.close()
}

/** A CfdiReader fed raw bytes: UTF-8 decoded (BOM dropped, invalid bytes are MALFORMED_XML). */
export class CfdiByteReader {
  readonly #reader = new CfdiReader()
  readonly #decoder = new TextDecoder('utf-8', { fatal: true })

  /** Feeds the next bytes. */
  write (chunk: Uint8Array): void { this.#reader.write(decode(this.#decoder, chunk, true)) }

  /** Ends the document and returns its fields. */
  close (): CfdiFields {
    this.#reader.write(decode(this.#decoder, undefined, false))
    return this.#reader.close()
  }
}

function decode (decoder: TextDecoder, chunk: Uint8Array | undefined, stream: boolean): string {
  try {
    return decoder.decode(chunk, { stream })
  } catch {
    throw new PermanentError(CfdiErrorCode.MALFORMED_XML, 'not well-formed XML: the text is not valid UTF-8')
  }
}

function decodeUtf8 (bytes: Uint8Array): string {
  return decode(new TextDecoder('utf-8', { fatal: true }), bytes, false)
}

function stripBom (text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}

function emptyFields (): CfdiFields {
  return { version: null, uuid: null, fecha: null, fechaTimbrado: null, emisorRfc: null, emisorNombre: null, receptorRfc: null, receptorNombre: null, subtotal: null, total: null, moneda: null, tipoDeComprobante: null }
}
