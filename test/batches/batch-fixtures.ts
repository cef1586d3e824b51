// Files, requests and waits for the batch tests.

import type { FastifyInstance } from 'fastify'
import type { BatchSummary, BatchView } from '../../src/schemas/batch.ts'
import { cfdiValues, cfdiXml, type CfdiValues } from '../documents/cfdi-xml.ts'
import { pdfDocument, pngImage } from '../documents/fixtures.ts'
import { AUTH } from '../helper.ts'

/** A file to send, and what its child must end as. */
export interface BatchFileCase {
  name: string
  body: Buffer | string
  state: 'completed' | 'failed'
  code?: string
  /** What the child's result must match (tap's t.match pattern). */
  result?: Record<string, unknown>
}

const uuid = (i: number): string => `6F1E0B8A-3C2D-4E5F-8A9B-${String(i).padStart(12, '0')}`

/**
 * The 51 files of the issue: 20 CFDI 4.0 and 20 CFDI 3.3 (prefixed and default namespaces, with and without BOM;
 * files 0 and 1 share a UUID), 5 CSVs, a PDF, a PNG, a PNG named .pdf, a non-CFDI XML, a malformed XML, a binary.
 */
export function fiftyOneFiles (): { files: BatchFileCase[], cfdis: CfdiValues[] } {
  const files: BatchFileCase[] = []
  const cfdis: CfdiValues[] = []
  for (let i = 0; i < 40; i++) {
    const v4 = i < 20
    const values = cfdiValues({
      version: v4 ? '4.0' : '3.3',
      uuid: uuid(i === 1 ? 0 : i),
      emisorRfc: v4 ? 'EKU9003173C9' : 'AAA010101AAA',
      moneda: v4 ? 'MXN' : 'USD',
      subtotal: v4 ? '1000.00' : '86.64',
      total: v4 ? '1160.00' : '100.50'
    })
    cfdis.push(values)
    const { version, ...fields } = values
    files.push({ name: `factura-${i}.xml`, body: cfdiXml(values, { prefixed: i % 2 === 0, bom: i % 3 === 0 }), state: 'completed', result: { kind: 'xml', cfdi: { version, ...fields } } })
  }
  for (let i = 0; i < 5; i++) {
    const rows = 10 + i
    const csv = 'id;name;amount\n' + Array.from({ length: rows }, (_, r) => `${r};row ${r};${r * 1.5}`).join('\n') + '\n'
    files.push({ name: `data-${i}.csv`, body: csv, state: 'completed', result: { kind: 'csv', csv: { delimiter: ';', rows, columns: 3, header: ['id', 'name', 'amount'] } } })
  }
  files.push({ name: 'contract.pdf', body: pdfDocument(3), state: 'completed', result: { kind: 'pdf', pages: 3 } })
  files.push({ name: 'photo.png', body: pngImage(7, 5), state: 'completed', result: { kind: 'png', width: 7, height: 5 } })
  files.push({ name: 'scan.pdf', body: pngImage(4, 4), state: 'failed', code: 'UNSUPPORTED_TYPE' })
  files.push({ name: 'feed.xml', body: '<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>', state: 'failed', code: 'NOT_CFDI' })
  files.push({ name: 'broken.xml', body: '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4"><cfdi:Emisor Rfc="X">', state: 'failed', code: 'MALFORMED_XML' })
  files.push({ name: 'blob.xml', body: Buffer.from([0, 1, 2, 3, 255, 254, 0, 0, 9]), state: 'failed', code: 'UNSUPPORTED_TYPE' })
  return { files, cfdis }
}

/** Sends one multipart batch request over a real connection, as a browser's FormData would. */
export async function sendBatch (base: string, type: string, files: ReadonlyArray<{ name: string, body: Buffer | string }>, options: { input?: unknown, notify?: unknown, headers?: Record<string, string>, user?: keyof typeof AUTH } = {}): Promise<Response> {
  const form = new FormData()
  if (options.input !== undefined) form.set('input', JSON.stringify(options.input))
  if (options.notify !== undefined) form.set('notify', JSON.stringify(options.notify))
  for (const file of files) form.append('file', new Blob([file.body], { type: 'application/octet-stream' }), file.name)
  return await fetch(`${base}/api/batches/${type}`, { method: 'POST', headers: { ...AUTH[options.user ?? 'alice'], ...options.headers }, body: form })
}

/** Resolves with the batch's aggregate once `until` holds (checked now, then on every batch event); rejects after `timeoutMs`. */
export async function waitForBatch (app: FastifyInstance, owner: string, id: string, until: (b: BatchSummary) => boolean, timeoutMs = 30_000): Promise<BatchSummary> {
  const service = app.jobcast.service
  let unsubscribe = (): void => {}
  let timer: NodeJS.Timeout | undefined
  try {
    return await new Promise<BatchSummary>((resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`timed out waiting for batch ${id}`)) }, timeoutMs)
      unsubscribe = service.events.subscribe((event) => {
        if (event.kind !== 'batch' || event.jobId !== id) return
        const summary = JSON.parse(event.data) as BatchSummary
        if (until(summary)) resolve(summary)
      })
      void (async () => {
        const batch = await service.batches.get(owner, id)
        if (batch === undefined) return
        const summary = await service.batches.summary(batch)
        if (until(summary)) resolve(summary)
      })()
    })
  } finally {
    clearTimeout(timer)
    unsubscribe()
  }
}

/** GET /api/batches/:id as JSON. */
export async function getBatch (base: string, id: string, user: keyof typeof AUTH = 'alice'): Promise<BatchView> {
  const res = await fetch(`${base}/api/batches/${id}`, { headers: AUTH[user] })
  if (res.status !== 200) throw new Error(`GET batch answered ${res.status}: ${await res.text()}`)
  return await res.json() as BatchView
}
