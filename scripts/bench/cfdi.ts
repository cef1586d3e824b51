// CFDI extraction throughput on one core: jobcast's streaming reader (saxes) beside fast-xml-parser, one run.
//
//   node --import tsx scripts/bench/cfdi.ts            (RUNS=5 MS=2000 by default)
//
// Each contender parses the same ~6 KB CFDI 4.0 invoice in a loop for MS milliseconds, RUNS rounds interleaved;
// the figure is the median of the rounds. Also prints how long a DOCTYPE (entity expansion) attack takes to refuse.

import { SaxesParser } from 'saxes'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { CfdiByteReader, extractCfdi } from '../../src/documents/index.ts'
import { cfdiValues, cfdiXml } from '../../test/documents/cfdi-xml.ts'
import { envInt, fmt, median } from './lib.ts'

const RUNS = envInt('RUNS', 5)
const MS = envInt('MS', 2000)

const xml = cfdiXml(cfdiValues(), { conceptos: 12 })
const bytes = Buffer.from(xml)

const fxp = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', removeNSPrefix: true })

const contenders: Record<string, () => unknown> = {
  // What the documents job does per file: bytes in, UTF-8 decoded, DOCTYPE check, namespace-aware parse, fields out.
  'jobcast CfdiByteReader (saxes, bytes in)': () => { const r = new CfdiByteReader(); r.write(bytes); return r.close() },
  'jobcast extractCfdi (saxes, string in)': () => extractCfdi(xml),
  'saxes alone (xmlns, no field extraction)': () => { const p = new SaxesParser({ xmlns: true, position: false }); p.write(xml).close() },
  'fast-xml-parser parse (no validation)': () => {
    const doc = fxp.parse(xml) as { Comprobante: { Total: string, Complemento: { TimbreFiscalDigital: { UUID: string } } } }
    return [doc.Comprobante.Total, doc.Comprobante.Complemento.TimbreFiscalDigital.UUID]
  },
  'fast-xml-parser validate + parse': () => { XMLValidator.validate(xml); return fxp.parse(xml) }
}

function round (fn: () => unknown): number {
  const end = performance.now() + MS
  let n = 0
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) fn()
    n += 50
  }
  return n / (MS / 1000)
}

for (const fn of Object.values(contenders)) round(fn) // warm-up
const rates: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]))
for (let r = 0; r < RUNS; r++) for (const [name, fn] of Object.entries(contenders)) rates[name]!.push(round(fn))

console.log(`CFDI 4.0 invoice of ${fmt(bytes.length)} bytes; ${RUNS} rounds of ${MS} ms; node ${process.version}`)
console.log('| parser | documents/s (median) | MB/s | rounds |')
console.log('|---|---|---|---|')
for (const [name, xs] of Object.entries(rates)) {
  const m = median(xs)
  console.log(`| ${name} | ${fmt(m)} | ${fmt((m * bytes.length) / 1e6, 1)} | ${xs.map((x) => fmt(x)).join(', ')} |`)
}

// Billion laughs: ten levels of ten references, 10^9 "lol"s if expanded.
const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
  Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('') +
  ']><lolz>&lol9;</lolz>'
const refusal: number[] = []
for (let i = 0; i < 1000; i++) {
  const t0 = performance.now()
  try { extractCfdi(laughs) } catch { /* refused */ }
  refusal.push(performance.now() - t0)
}
console.log(`\nbillion-laughs document refused by extractCfdi: median ${fmt(median(refusal) * 1000, 1)} µs`)
const unclosed = '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4"><cfdi:Emisor Rfc="X">'
let fxpAccepts = false
try { fxp.parse(unclosed); fxpAccepts = true } catch { /* refused */ }
console.log(`unclosed tag: fast-xml-parser parse ${fxpAccepts ? 'accepts it' : 'refuses it'}; XMLValidator says ${JSON.stringify(XMLValidator.validate(unclosed) === true ? 'valid' : 'invalid')}`)
