// One webhook delivery attempt over the safe agent: signed, 15 s at most, no redirect followed, little body read.

import type { Agent } from 'undici'
import { toJobError } from '../errors.ts'
import type { AllowList } from '../net/address-policy.ts'
import { safeRequest } from '../net/safe-request.ts'
import { parseRetryAfter } from './retry-schedule.ts'
import { webhookHeaders } from './signature.ts'

/** The record of one attempt, kept on the job or batch (`GET …/deliveries`). */
export interface DeliveryAttempt {
  /** When the attempt started (ISO 8601). */
  at: string
  /** The receiver's HTTP status; `null` when there was no answer. */
  status: number | null
  /** Why there was no answer (ADDRESS_NOT_ALLOWED, REQUEST_TIMEOUT, ECONNREFUSED…); `null` when there was one. */
  error: { code: string, message: string } | null
  durationMs: number
  /** The receiver's `Retry-After`, in ms; `null` when it sent none. */
  retryAfterMs: number | null
}

/** One webhook message: the same `id` and body on every attempt; the timestamp and signature are made per attempt. */
export interface WebhookMessage {
  url: string
  /** `webhook-id`: stable across retries, so the receiver can drop duplicates. */
  id: string
  /** The JSON body, serialized once. */
  body: string
  /** The owner's `whsec_…` secret. */
  secret: string
}

/** How deliveries reach the network. */
export interface DeliveryTransport {
  /**
   * An agent from `createSafeAgent` (checks every address at connect time), or a function that resolves to one, made
   * on first use.
   */
  dispatcher: Agent | (() => Promise<Agent>)
  allow: AllowList
  /** Time for one attempt, in ms (default 15000). */
  timeoutMs?: number
  /** Bytes of the receiver's answer read at most (default 1024; the rest is discarded). */
  maxBodyBytes?: number
  /** Clock, for tests (default Date.now). */
  now?: () => number
}

/** Default time for one attempt, in ms. */
export const DELIVERY_TIMEOUT_MS = 15_000

/** Sends `message` once. Never throws: every outcome, a refused address included, is an attempt record. */
export async function deliverWebhook (message: WebhookMessage, transport: DeliveryTransport): Promise<DeliveryAttempt> {
  const now = transport.now ?? Date.now
  const startedAt = now()
  const started = performance.now()
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'jobcast-webhooks',
    ...webhookHeaders(message.secret, message.id, Math.floor(startedAt / 1000), message.body)
  }
  try {
    const response = await safeRequest(message.url, {
      dispatcher: typeof transport.dispatcher === 'function' ? await transport.dispatcher() : transport.dispatcher,
      allow: transport.allow,
      method: 'POST',
      headers,
      body: message.body,
      timeoutMs: transport.timeoutMs ?? DELIVERY_TIMEOUT_MS,
      maxRedirects: 0,
      maxBodyBytes: transport.maxBodyBytes ?? 1024
    })
    return {
      at: new Date(startedAt).toISOString(),
      status: response.status,
      error: null,
      durationMs: Math.round(performance.now() - started),
      retryAfterMs: parseRetryAfter(response.headers['retry-after'], now())
    }
  } catch (err) {
    return { at: new Date(startedAt).toISOString(), status: null, error: networkError(err), durationMs: Math.round(performance.now() - started), retryAfterMs: null }
  }
}

function networkError (err: unknown): { code: string, message: string } {
  const e = toJobError(err)
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause
  return e.code === 'HANDLER_ERROR' && typeof cause?.code === 'string' ? { code: cause.code, message: e.message } : e
}
