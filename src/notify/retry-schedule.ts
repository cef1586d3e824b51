// When a failed webhook delivery is tried again: a fixed schedule up to about a day, Retry-After honored, 410 ends it.

import { ADDRESS_NOT_ALLOWED } from '../net/address-policy.ts'
import type { DeliveryAttempt } from './deliver-webhook.ts'

/**
 * Waits before each retry, in ms. With the first attempt made at once, attempts go out immediately, then after
 * 5 s, 5 min, 30 min, 2 h, 5 h and 10 h: seven attempts over about 17.6 h, within a day.
 */
export const RETRY_SCHEDULE_MS: readonly number[] = [5_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 5 * 3_600_000, 10 * 3_600_000]

/** Longest `Retry-After` honored, in ms: a receiver cannot push a retry past a day. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000

/** What to do after an attempt. */
export type NextStep =
  | { kind: 'delivered' }
  /** Try again after `delayMs`. */
  | { kind: 'retry', delayMs: number }
  /** The receiver answered 410 Gone: the endpoint is disabled, no more attempts. */
  | { kind: 'disabled' }
  /** No more attempts: the schedule is spent, or the failure cannot get better (a refused address). */
  | { kind: 'gave-up', reason: string }

/**
 * The step after attempt number `attempts` (1 for the first) ended as `last`. A 2xx is delivered; 410 disables;
 * a refused address gives up at once; otherwise the next wait of the schedule, or `Retry-After` when the receiver
 * sent one (within a day), until the schedule is spent.
 */
export function nextStep (attempts: number, last: DeliveryAttempt, schedule: readonly number[] = RETRY_SCHEDULE_MS): NextStep {
  if (last.status !== null && last.status >= 200 && last.status < 300) return { kind: 'delivered' }
  if (last.status === 410) return { kind: 'disabled' }
  if (last.error?.code === ADDRESS_NOT_ALLOWED) return { kind: 'gave-up', reason: last.error.message }
  // The first attempt is not in the schedule: entry i is the wait before retry i + 1.
  const planned = schedule[attempts - 1]
  if (planned === undefined) return { kind: 'gave-up', reason: `no answer in 2xx after ${attempts} attempts` }
  const delayMs = last.retryAfterMs !== null ? Math.min(last.retryAfterMs, MAX_RETRY_AFTER_MS) : planned
  return { kind: 'retry', delayMs }
}

/** `Retry-After` in ms: delta-seconds or an HTTP date (relative to `now`); `null` when absent or unreadable. */
export function parseRetryAfter (value: string | string[] | undefined, now = Date.now()): number | null {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v.trim() === '') return null
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000
  const date = Date.parse(v)
  return Number.isNaN(date) ? null : Math.max(0, date - now)
}
