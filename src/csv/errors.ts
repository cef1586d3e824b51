/** Stable error codes raised by the CSV profiling engine. */
export const CsvErrorCode = {
  /** The file holds binary data (NUL bytes, a known binary signature) rather than CSV text. */
  NOT_CSV: 'NOT_CSV',
  /** The file has no bytes at all. */
  EMPTY_FILE: 'EMPTY_FILE',
  /** A resume checkpoint does not belong to this file or these options. */
  BAD_CHECKPOINT: 'BAD_CHECKPOINT',
  /** A checkpoint was read after its progress callback had returned. */
  STALE_CHECKPOINT: 'STALE_CHECKPOINT'
} as const

/** One of the codes in `CsvErrorCode`. */
export type CsvErrorCodeValue = typeof CsvErrorCode[keyof typeof CsvErrorCode]

/** Error thrown by the CSV engine, with a stable machine-readable `code`. */
export class CsvError extends Error {
  readonly code: CsvErrorCodeValue

  constructor (code: CsvErrorCodeValue, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'CsvError'
    this.code = code
  }

  /** Plain object for logs and HTTP bodies. */
  toJSON (): { name: string, code: CsvErrorCodeValue, message: string } {
    return { name: this.name, code: this.code, message: this.message }
  }
}
