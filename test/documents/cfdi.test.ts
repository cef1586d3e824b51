import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { CfdiByteReader, CfdiReader, extractCfdi, extractCfdiFile, summarizeCfdi, type CfdiFields } from '../../src/documents/index.ts'
import { cfdiValues, cfdiXml, expectedFields } from './cfdi-xml.ts'

function codeOf (fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    return (err as { code?: string }).code
  }
}

test('CFDI fields equal the values written, for 3.3 and 4.0, prefixed and default namespace, with and without BOM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'jobcast-cfdi-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  for (const version of ['3.3', '4.0'] as const) {
    for (const prefixed of [true, false]) {
      for (const bom of [false, true]) {
        const label = `${version} ${prefixed ? 'cfdi: prefix' : 'default namespace'} ${bom ? 'BOM' : 'no BOM'}`
        const values = cfdiValues({
          version,
          uuid: `${version === '3.3' ? 'AAAAAAAA' : 'BBBBBBBB'}-1111-4222-8333-${prefixed ? '0' : '1'}${bom ? '0' : '1'}0000000000`,
          emisorNombre: `Émisor ${label} & Cía <test>`,
          total: version === '3.3' ? '2320.50' : '1160.000001',
          moneda: version === '3.3' ? 'USD' : 'MXN',
          tipoDeComprobante: version === '3.3' ? 'E' : 'I'
        })
        const xml = cfdiXml(values, { prefixed, bom, conceptos: 5 })
        t.same(extractCfdi(xml), expectedFields(values), `${label}: from a string`)
        t.same(extractCfdi(Buffer.from(xml)), expectedFields(values), `${label}: from bytes`)
        const path = join(dir, `${version}-${String(prefixed)}-${String(bom)}.xml`)
        writeFileSync(path, xml)
        t.same(await extractCfdiFile(path), expectedFields(values), `${label}: streamed from a file`)
        // Chunks of 7 bytes cut tags, attribute values and multi-byte characters (É, —) in two.
        const reader = new CfdiByteReader()
        const bytes = Buffer.from(xml)
        for (let i = 0; i < bytes.length; i += 7) reader.write(bytes.subarray(i, i + 7))
        t.same(reader.close(), expectedFields(values), `${label}: in 7-byte chunks`)
      }
    }
  }
})

test('a CFDI without a stamp has null uuid and fechaTimbrado; a stamp outside Complemento is not taken', async (t) => {
  const values = cfdiValues()
  const unstamped = cfdiXml(values).replace(/<tfd:TimbreFiscalDigital[^>]*\/>/, '')
  t.match(extractCfdi(unstamped), { uuid: null, fechaTimbrado: null, emisorRfc: values.emisorRfc, total: values.total })
  const misplaced = unstamped.replace('<cfdi:Conceptos>', `<cfdi:Addenda><tfd:TimbreFiscalDigital xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital" UUID="NOT-THE-STAMP"/></cfdi:Addenda><cfdi:Conceptos>`)
  t.equal(extractCfdi(misplaced).uuid, null)
})

test('any DOCTYPE is refused on the first chunk that shows it, before the parser reads on', async (t) => {
  const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
    Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('') +
    ']><cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4">&lol9;</cfdi:Comprobante>'
  t.equal(codeOf(() => extractCfdi(laughs)), 'XML_DOCTYPE_NOT_ALLOWED', 'billion laughs')
  const xxe = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>'
  t.equal(codeOf(() => extractCfdi(xxe)), 'XML_DOCTYPE_NOT_ALLOWED', 'external entity')
  t.equal(codeOf(() => extractCfdi('\uFEFF<!DOCTYPE x><x/>')), 'XML_DOCTYPE_NOT_ALLOWED', 'after a BOM')

  // Split across two writes, the DOCTYPE is still seen, and the second write throws: nothing after it is parsed.
  const reader = new CfdiReader()
  reader.write('<?xml version="1.0"?><!DOC')
  t.equal(codeOf(() => { reader.write('TYPE x [<!ENTITY a "b">]>') }), 'XML_DOCTYPE_NOT_ALLOWED')
  t.equal(codeOf(() => { reader.write('<x>&a;</x>') }), 'XML_DOCTYPE_NOT_ALLOWED', 'the reader stays failed')
})

test('malformed XML is MALFORMED_XML, whatever its root', async (t) => {
  const good = cfdiXml(cfdiValues())
  const cases: Record<string, string | Buffer> = {
    'an unclosed tag': '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4"><cfdi:Emisor Rfc="X">',
    'a mismatched close tag': '<root><a></b></root>',
    'a document cut in half': good.slice(0, Math.floor(good.length / 2)),
    'an unbound prefix': good.replace('xmlns:cfdi="http://www.sat.gob.mx/cfd/4"', ''),
    'an undefined entity': '<root>&nbsp;</root>',
    'text after the root': '<root/>trailing',
    'invalid UTF-8': Buffer.concat([Buffer.from('<root a="'), Buffer.from([0xc3, 0x28]), Buffer.from('"/>')]),
    'no root element': '<?xml version="1.0"?>',
    'not XML at all': 'a,b,c\n1,2,3\n'
  }
  for (const [what, xml] of Object.entries(cases)) t.equal(codeOf(() => extractCfdi(xml)), 'MALFORMED_XML', what)
})

test('well-formed XML that is not a CFDI is NOT_CFDI', async (t) => {
  const good = cfdiXml(cfdiValues())
  const cases: Record<string, string> = {
    'another root': '<?xml version="1.0"?><catalog><book id="1"/></catalog>',
    'a Comprobante without namespace': '<Comprobante Version="4.0" Total="1.00"/>',
    'a Comprobante of another namespace': good.replaceAll('http://www.sat.gob.mx/cfd/4', 'http://www.sat.gob.mx/cfd/2'),
    'a CFDI element that is not the root': `<wrapper>${good.replace(/^<\?xml[^>]*\?>/, '')}</wrapper>`
  }
  for (const [what, xml] of Object.entries(cases)) t.equal(codeOf(() => extractCfdi(xml)), 'NOT_CFDI', what)
})

test('size cap: past maxBytes is XML_TOO_LARGE', async (t) => {
  const xml = cfdiXml(cfdiValues(), { conceptos: 20 })
  t.equal(codeOf(() => extractCfdi(xml, { maxBytes: 1000 })), 'XML_TOO_LARGE')
  t.equal(codeOf(() => extractCfdi(xml, { maxBytes: xml.length * 2 })), undefined)
})

test('batch summary: duplicate UUIDs flagged (case-insensitively), exact totals per emisor RFC and currency', async (t) => {
  const f = (over: Partial<CfdiFields>): CfdiFields => ({ ...expectedFields(cfdiValues()), ...over } as CfdiFields)
  const summary = summarizeCfdi([
    { index: 0, name: 'a.xml', cfdi: f({ uuid: 'U-1', emisorRfc: 'AAA010101AAA', moneda: 'MXN', total: '0.10', subtotal: '0.1' }) },
    { index: 1, name: 'b.xml', cfdi: f({ uuid: 'u-1', emisorRfc: 'AAA010101AAA', moneda: 'MXN', total: '0.20', subtotal: '0.2' }) },
    { index: 2, name: 'c.xml', cfdi: f({ uuid: 'U-2', emisorRfc: 'AAA010101AAA', moneda: 'USD', total: '10.005', subtotal: '10' }) },
    { index: 3, name: 'd.xml', cfdi: f({ uuid: 'U-3', emisorRfc: 'BBB010101BBB', moneda: 'MXN', total: '99999999999999999.99', subtotal: '1' }) },
    { index: 4, name: 'e.xml', cfdi: f({ uuid: 'U-4', emisorRfc: 'BBB010101BBB', moneda: 'MXN', total: '0.01', subtotal: '1' }) },
    { index: 5, name: 'f.xml', cfdi: f({ uuid: 'U-2', emisorRfc: 'CCC010101CCC', moneda: 'MXN', total: 'n/a', subtotal: '1' }) }
  ])
  t.equal(summary.invoices, 6)
  t.same(summary.duplicates, [{ uuid: 'U-1', indexes: [0, 1], names: ['a.xml', 'b.xml'] }, { uuid: 'U-2', indexes: [2, 5], names: ['c.xml', 'f.xml'] }])
  t.same(summary.totals, [
    { emisorRfc: 'AAA010101AAA', moneda: 'MXN', invoices: 2, total: '0.30', subtotal: '0.3' },
    { emisorRfc: 'AAA010101AAA', moneda: 'USD', invoices: 1, total: '10.005', subtotal: '10' },
    { emisorRfc: 'BBB010101BBB', moneda: 'MXN', invoices: 2, total: '100000000000000000.00', subtotal: '2' }
  ], 'no floating-point drift: 0.10 + 0.20 is 0.30')
  t.same(summary.unsummed, [5])
})
