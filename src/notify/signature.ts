// Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed by a `whsec_` secret.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

const PREFIX = 'whsec_'

/** The headers a signed webhook carries. */
export interface WebhookHeaders {
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
}

/** A new secret: `whsec_` and the base64 of 32 random bytes. */
export function generateWebhookSecret (): string {
  return PREFIX + randomBytes(32).toString('base64')
}

/** The HMAC key of a secret: the base64 after `whsec_` (a secret without the prefix is taken as base64 too). */
export function secretKey (secret: string): Buffer {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64')
  if (key.length < 16) throw new Error('a webhook secret must be whsec_ and the base64 of at least 16 bytes')
  return key
}

/** The `v1,…` signature of one message. */
export function signWebhook (secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64')
  return `v1,${mac}`
}

/** The three headers of a message sent at `timestampSeconds` (Unix seconds); `id` stays the same across retries. */
export function webhookHeaders (secret: string, id: string, timestampSeconds: number, body: string): WebhookHeaders {
  return { 'webhook-id': id, 'webhook-timestamp': String(timestampSeconds), 'webhook-signature': signWebhook(secret, id, timestampSeconds, body) }
}

/** Whether one of the space-separated signatures in `header` is the message's (constant-time compare). */
export function verifyWebhookSignature (secret: string, id: string, timestampSeconds: number, body: string, header: string): boolean {
  const expected = Buffer.from(signWebhook(secret, id, timestampSeconds, body))
  return header.split(' ').some((candidate) => {
    const given = Buffer.from(candidate)
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}
