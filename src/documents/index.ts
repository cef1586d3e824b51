// Document inspection: kind by content, size, SHA-256, CSV shape, PDF pages, image size and CFDI invoice fields.

export { accepts, detectKind, DETECT_BYTES, EXTENSIONS, UNSUPPORTED_TYPE, type AcceptVerdict, type DocumentKind } from './detect.ts'
export { CFDI_MAX_BYTES, CFDI_NAMESPACES, CfdiByteReader, CfdiErrorCode, CfdiReader, extractCfdi, extractCfdiFile, TFD_NAMESPACE, type CfdiFields } from './cfdi.ts'
export { summarizeCfdi, type CfdiEntry, type CfdiSummary, type CfdiTotal, type DuplicateUuid } from './cfdi-summary.ts'
export { inspectDocument, type CsvShape, type DocumentInspection, type InspectOptions } from './inspect.ts'
export { pdfPageCount } from './pdf-pages.ts'
export { jpegSize, pngSize, type ImageSize } from './image-size.ts'
