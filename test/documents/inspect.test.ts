import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { accepts, detectKind, inspectDocument, pdfPageCount } from '../../src/documents/index.ts'
import type { Teardown } from '../helper.ts'
import { cfdiValues, cfdiXml, expectedFields } from './cfdi-xml.ts'
import { jpegImage, pdfDocument, pngImage } from './fixtures.ts'

function tempDir (t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'jobcast-docs-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

test('detectKind tells every kind by content, whatever the name', async (t) => {
  t.equal(detectKind(pdfDocument(1)), 'pdf')
  t.equal(detectKind(Buffer.concat([Buffer.from('junk before the header\n'), pdfDocument(1)])), 'pdf', 'junk before %PDF- within the first KiB')
  t.equal(detectKind(pngImage(2, 2)), 'png')
  t.equal(detectKind(jpegImage(2, 2)), 'jpeg')
  t.equal(detectKind(Buffer.from(cfdiXml(cfdiValues()))), 'xml')
  t.equal(detectKind(Buffer.from(cfdiXml(cfdiValues(), { bom: true }))), 'xml', 'XML after a BOM')
  t.equal(detectKind(Buffer.from('\n  <catalog/>')), 'xml', 'XML after blank space')
  t.equal(detectKind(Buffer.from('name,amount\nana,1\n')), 'csv')
  t.equal(detectKind(Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3])), 'other', 'a ZIP')
  t.equal(detectKind(Buffer.from([0x00, 0x01, 0x02, 0x03])), 'other', 'binary')
  t.equal(detectKind(Buffer.alloc(0)), 'other', 'empty')
})

test('accepts: content and extension must agree; the Content-Type plays no part', async (t) => {
  t.match(accepts('factura.XML', Buffer.from(cfdiXml(cfdiValues()))), { ok: true, kind: 'xml' })
  t.match(accepts('scan.jpeg', jpegImage(2, 2)), { ok: true, kind: 'jpeg' })
  t.match(accepts('data.tsv', Buffer.from('a\tb\n1\t2\n')), { ok: true, kind: 'csv' })
  t.match(accepts('report.pdf', pngImage(2, 2)), { ok: false, code: 'UNSUPPORTED_TYPE', kind: 'png', message: /"report\.pdf".*PNG.*"\.pdf"/ })
  t.match(accepts('invoice.xml', Buffer.from('just some text')), { ok: false, code: 'UNSUPPORTED_TYPE', kind: 'csv' })
  t.match(accepts('archive.csv', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0])), { ok: false, code: 'UNSUPPORTED_TYPE', kind: 'other' })
  t.match(accepts('noextension', pdfDocument(1)), { ok: false, code: 'UNSUPPORTED_TYPE' })
})

test('inspectDocument: size and SHA-256 of every kind, with what the kind tells', async (t) => {
  const dir = tempDir(t)
  const values = cfdiValues({ version: '3.3' })
  const bigCell = 'x'.repeat(200_000)
  const files: Record<string, Buffer> = {
    'a.xml': Buffer.from(cfdiXml(values, { bom: true })),
    // Quoted newlines, a blank line, CRLF, a BOM and a cell longer than one read chunk.
    'b.csv': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`id;note;amount\r\n1;"two\r\nlines";3,5\r\n\r\n2;"${bigCell}";4\r\n3;plain;5\r\n`)]),
    'c.pdf': pdfDocument(3),
    'd.pdf': pdfDocument(12, { objectStream: true }),
    'e.png': pngImage(33, 17),
    'f.jpg': jpegImage(1920, 1080, { exifBytes: 150_000 }),
    'g.bin': Buffer.from([0x50, 0x4b, 0x03, 0x04, 9, 9, 9])
  }
  const got: Record<string, unknown> = {}
  for (const [name, body] of Object.entries(files)) {
    writeFileSync(join(dir, name), body)
    got[name] = await inspectDocument(join(dir, name), name)
    t.match(got[name], { bytes: body.length, sha256: sha256(body) }, `${name}: size and SHA-256`)
  }
  t.same(got['a.xml'], { kind: 'xml', bytes: files['a.xml']!.length, sha256: sha256(files['a.xml']!), cfdi: expectedFields(values) })
  t.match(got['b.csv'], { kind: 'csv', csv: { delimiter: ';', encoding: 'utf-8-bom', rows: 3, columns: 3, header: ['id', 'note', 'amount'] } })
  t.match(got['c.pdf'], { kind: 'pdf', pages: 3 })
  t.match(got['d.pdf'], { kind: 'pdf', pages: 12 }, 'page tree inside a compressed object stream')
  t.match(got['e.png'], { kind: 'png', width: 33, height: 17 })
  t.match(got['f.jpg'], { kind: 'jpeg', width: 1920, height: 1080 }, 'frame header past 150 KB of EXIF')
  t.same(Object.keys(got['g.bin']!), ['kind', 'bytes', 'sha256'])
  t.match(got['g.bin'], { kind: 'other' })
})

test('inspectDocument: an XML must be a CFDI', async (t) => {
  const dir = tempDir(t)
  const cases: Array<[string, string, string]> = [
    ['malformed.xml', '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4"><cfdi:Emisor>', 'MALFORMED_XML'],
    ['catalog.xml', '<catalog><book/></catalog>', 'NOT_CFDI'],
    ['doctype.xml', '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', 'XML_DOCTYPE_NOT_ALLOWED']
  ]
  for (const [name, body, code] of cases) {
    writeFileSync(join(dir, name), body)
    await t.rejects(inspectDocument(join(dir, name), name), { code }, name)
  }
  writeFileSync(join(dir, 'big.xml'), cfdiXml(cfdiValues(), { conceptos: 10 }))
  await t.rejects(inspectDocument(join(dir, 'big.xml'), 'big.xml', { maxXmlBytes: 1000 }), { code: 'XML_TOO_LARGE' })
})

test('pdfPageCount: null without a page tree', async (t) => {
  t.equal(pdfPageCount(Buffer.from('%PDF-1.4\n%%EOF\n')), null)
  t.equal(pdfPageCount(Buffer.from('%PDF-1.4\n1 0 obj\n<< /Type /Page >>\nendobj\n2 0 obj\n<< /Type /Page >>\nendobj\n')), 2, 'no /Pages node: the pages are counted')
})
