import type { RetryPolicy } from './define-job.ts'

/** Wait before attempt `attempt + 1`: exponential backoff with full jitter, never less than `retryAfterMs`. */
export function retryDelay (policy: RetryPolicy, attempt: number, retryAfterMs = 0, random = Math.random): number {
  const base = policy.baseMs ?? 1000
  const max = policy.maxMs ?? 60_000
  const ceiling = policy.backoff === 'fixed' ? base : Math.min(max, base * 2 ** (attempt - 1))
  return Math.max(Math.round(random() * ceiling), retryAfterMs)
}

/** Parses an HTTP `Retry-After` value (seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter (value: string | null | undefined, now = Date.now()): number | undefined {
  if (value == null || value.trim() === '') return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}
