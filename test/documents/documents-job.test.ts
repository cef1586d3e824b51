import { test } from 'tap'
import type { JobView } from '../../src/schemas/job.ts'
import { AUTH, build, waitForState } from '../helper.ts'
import { listen } from '../sse/fixtures.ts'
import { cfdiValues, cfdiXml, expectedFields } from './cfdi-xml.ts'
import { pngImage } from './fixtures.ts'

// A real multipart request, as a browser's FormData sends it; the declared type is deliberately misleading.
async function upload (base: string, body: Buffer | string, name: string): Promise<Response> {
  const form = new FormData()
  form.set('file', new Blob([body], { type: 'application/octet-stream' }), name)
  return await fetch(`${base}/api/jobs/documents`, { method: 'POST', headers: AUTH.alice, body: form })
}

test('documents job: a CFDI upload completes with its inspection and fields; bad XML fails with its code, once', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const values = cfdiValues()
  const xml = cfdiXml(values, { prefixed: false, bom: true })

  const res = await upload(base, xml, 'factura-001.xml')
  t.equal(res.status, 202)
  const job = await res.json() as JobView & { preview: unknown }
  t.same(job.preview, { kind: 'xml' })
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed')
  t.equal(done.state, 'completed', JSON.stringify(done.error))
  t.match(done.result, { file: 'factura-001.xml', kind: 'xml', bytes: Buffer.byteLength(xml), sha256: /^[0-9a-f]{64}$/, cfdi: expectedFields(values) })

  for (const [name, body, code] of [
    ['broken.xml', '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4"><cfdi:Emisor Rfc="X">', 'MALFORMED_XML'],
    ['catalog.xml', '<?xml version="1.0"?><catalog/>', 'NOT_CFDI']
  ] as const) {
    const started = await upload(base, body, name)
    t.equal(started.status, 202, name)
    const failed = await waitForState(app, 'alice', (await started.json() as JobView).id, 'completed', 'failed')
    t.equal(failed.state, 'failed', name)
    t.equal(failed.error?.code, code, name)
    t.equal(failed.attempt, 1, `${name}: a permanent error is not retried`)
  }
})

test('documents job: a file whose content and extension disagree is refused with 415 UNSUPPORTED_TYPE', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const res = await upload(base, pngImage(4, 4), 'invoice.pdf')
  t.equal(res.status, 415)
  t.match(await res.json(), { statusCode: 415, code: 'UNSUPPORTED_TYPE', message: /invoice\.pdf/ })
  const unknownExt = await upload(base, pngImage(4, 4), 'photo.gif')
  t.equal(unknownExt.status, 415, 'an extension the type does not list')
})
