// Builds CFDI 3.3 / 4.0 documents for tests and benchmarks, with known field values.

/** The values written into a generated CFDI. */
export interface CfdiValues {
  version: '3.3' | '4.0'
  uuid: string
  fecha: string
  fechaTimbrado: string
  emisorRfc: string
  emisorNombre: string
  receptorRfc: string
  receptorNombre: string
  subtotal: string
  total: string
  moneda: string
  tipoDeComprobante: string
}

/** How the document is written. */
export interface CfdiStyle {
  /** `cfdi:` and `tfd:` prefixes (true, the usual form) or default namespaces (false). */
  prefixed?: boolean
  /** Starts with a UTF-8 byte order mark. */
  bom?: boolean
  /** Concepto lines, to reach a realistic size (each ~500 bytes). */
  conceptos?: number
}

/** Values of a typical invoice; `overrides` replace some. */
export function cfdiValues (overrides: Partial<CfdiValues> = {}): CfdiValues {
  return {
    version: '4.0',
    uuid: '6F1E0B8A-3C2D-4E5F-8A9B-0C1D2E3F4A5B',
    fecha: '2024-03-15T10:20:30',
    fechaTimbrado: '2024-03-15T10:21:05',
    emisorRfc: 'EKU9003173C9',
    emisorNombre: 'ESCUELA KEMPER URGATE & Asociados, S.A. de C.V. — Año',
    receptorRfc: 'XAXX010101000',
    receptorNombre: 'PÚBLICO EN GENERAL',
    subtotal: '1000.00',
    total: '1160.00',
    moneda: 'MXN',
    tipoDeComprobante: 'I',
    ...overrides
  }
}

/** A CFDI document with `values` in it, as a string (with the BOM character when `style.bom`). */
export function cfdiXml (values: CfdiValues, style: CfdiStyle = {}): string {
  const prefixed = style.prefixed ?? true
  const ns = `http://www.sat.gob.mx/cfd/${values.version === '3.3' ? '3' : '4'}`
  const c = prefixed ? 'cfdi:' : ''
  const rootNs = prefixed ? `xmlns:cfdi="${ns}"` : `xmlns="${ns}"`
  const tfd = prefixed
    ? `<tfd:TimbreFiscalDigital xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital" Version="1.1" UUID="${esc(values.uuid)}" FechaTimbrado="${esc(values.fechaTimbrado)}" RfcProvCertif="SAT970701NN3" SelloCFD="abc" NoCertificadoSAT="30001000000400002495" SelloSAT="def"/>`
    : `<TimbreFiscalDigital xmlns="http://www.sat.gob.mx/TimbreFiscalDigital" Version="1.1" UUID="${esc(values.uuid)}" FechaTimbrado="${esc(values.fechaTimbrado)}" RfcProvCertif="SAT970701NN3" SelloCFD="abc" NoCertificadoSAT="30001000000400002495" SelloSAT="def"/>`
  const v4 = values.version === '4.0'
  const conceptos = Array.from({ length: style.conceptos ?? 2 }, (_, i) =>
    `    <${c}Concepto ClaveProdServ="01010101" NoIdentificacion="SKU-${i}" Cantidad="1" ClaveUnidad="H87" Unidad="Pieza" Descripcion="Artículo de prueba número ${i} con descripción larga" ValorUnitario="500.00" Importe="500.00"${v4 ? ' ObjetoImp="02"' : ''}>
      <${c}Impuestos><${c}Traslados><${c}Traslado Base="500.00" Impuesto="002" TipoFactor="Tasa" TasaOCuota="0.160000" Importe="80.00"/></${c}Traslados></${c}Impuestos>
    </${c}Concepto>`).join('\n')
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<${c}Comprobante ${rootNs} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" Version="${values.version}" Serie="A" Folio="123" Fecha="${esc(values.fecha)}" FormaPago="01" NoCertificado="30001000000400002434" SubTotal="${esc(values.subtotal)}" Moneda="${esc(values.moneda)}" Total="${esc(values.total)}" TipoDeComprobante="${esc(values.tipoDeComprobante)}"${v4 ? ' Exportacion="01"' : ''} MetodoPago="PUE" LugarExpedicion="42501" Sello="c2VsbG8=" Certificado="Y2VydA==">
  <${c}Emisor Rfc="${esc(values.emisorRfc)}" Nombre="${esc(values.emisorNombre)}" RegimenFiscal="601"/>
  <${c}Receptor Rfc="${esc(values.receptorRfc)}" Nombre="${esc(values.receptorNombre)}"${v4 ? ' DomicilioFiscalReceptor="42501" RegimenFiscalReceptor="616"' : ''} UsoCFDI="${v4 ? 'S01' : 'G03'}"/>
  <${c}Conceptos>
${conceptos}
  </${c}Conceptos>
  <${c}Impuestos TotalImpuestosTrasladados="160.00"><${c}Traslados><${c}Traslado Base="1000.00" Impuesto="002" TipoFactor="Tasa" TasaOCuota="0.160000" Importe="160.00"/></${c}Traslados></${c}Impuestos>
  <${c}Complemento>
    ${tfd}
  </${c}Complemento>
</${c}Comprobante>
`
  return (style.bom === true ? '\uFEFF' : '') + xml
}

/** The fields extraction must return for `values`. */
export function expectedFields (values: CfdiValues): Record<string, string> {
  return { ...values }
}

function esc (value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')
}
