/** Base class of every error jobcast raises on purpose: a stable `code`, an HTTP status, a JSON shape. */
export class JobcastError extends Error {
  readonly code: string
  readonly statusCode: number

  constructor (code: string, message: string, statusCode = 500, options?: ErrorOptions) {
    super(message, options)
    this.name = 'JobcastError'
    this.code = code
    this.statusCode = statusCode
  }

  /** The `{ code, message }` stored on a failed job and sent to clients. */
  toJSON (): { code: string, message: string } {
    return { code: this.code, message: this.message }
  }
}

/** A 4xx answer: the message tells the client what to fix. */
export class ClientError extends JobcastError {
  /** Response headers that go with the error (e.g. `retry-after` on a 429). */
  readonly headers: Record<string, string>

  constructor (statusCode: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(code, message, statusCode)
    this.name = 'ClientError'
    this.headers = headers
  }
}

/** Thrown by a handler (or raised from an HTTP 429/503) to ask for another attempt, after at least `retryAfterMs`. */
export class RetryableError extends JobcastError {
  readonly retryAfterMs: number | undefined

  constructor (message: string, options: { retryAfterMs?: number, code?: string, cause?: unknown } = {}) {
    super(options.code ?? 'RETRYABLE', message, 500, { cause: options.cause })
    this.name = 'RetryableError'
    this.retryAfterMs = options.retryAfterMs
  }
}

/** Thrown by a handler to fail the job at once, without retrying. */
export class PermanentError extends JobcastError {
  constructor (code: string, message: string) {
    super(code, message, 500)
    this.name = 'PermanentError'
  }
}

/** Why a job's AbortSignal fired: canceled by its owner, timed out, stopped by shutdown, or its lease was taken over. */
export type AbortKind = 'canceled' | 'timeout' | 'shutdown' | 'lease-lost'

const ABORT_CODES: Record<AbortKind, string> = { canceled: 'CANCELED', timeout: 'TIMEOUT', shutdown: 'SHUTDOWN', 'lease-lost': 'LEASE_LOST' }

/** The reason a job's AbortSignal fires; `kind` says which. */
export class AbortReason extends JobcastError {
  readonly kind: AbortKind

  constructor (kind: AbortKind, message: string) {
    super(ABORT_CODES[kind], message, 500)
    this.name = 'AbortReason'
    this.kind = kind
  }
}

/** Turns whatever a handler threw into the `{ code, message }` stored on the job. */
export function toJobError (err: unknown): { code: string, message: string } {
  if (err instanceof JobcastError) return err.toJSON()
  if (err instanceof Error) {
    const code = typeof (err as { code?: unknown }).code === 'string' ? (err as unknown as { code: string }).code : 'HANDLER_ERROR'
    return { code, message: err.message || err.name }
  }
  return { code: 'HANDLER_ERROR', message: String(err) }
}
