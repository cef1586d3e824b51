// The `notify` of a start: where to tell that the job or batch ended. Checked at the start, delivered later.

import { isIP } from 'node:net'
import type { NotifyTargets } from '../core/batch-model.ts'
import { ClientError } from '../errors.ts'
import type { NotificationStore } from '../ports/batch-store.ts'
import { assertAddressAllowed, isAllowedHost, unbracket, type AllowList } from '../net/address-policy.ts'

const EMAIL = /^[^\s@<>(),;:"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$|^[^\s@<>(),;:"]{1,64}@localhost$/

/**
 * Reads and checks a start's `notify` (`{ webhook?: url, email?: address }`): a 400 names what is wrong. A webhook
 * URL must be http(s); a literal non-public address is refused now (422 CALLBACK_NOT_ALLOWED) unless allow-listed —
 * a host name is checked when the delivery connects, on the addresses it resolves to.
 */
export function parseNotify (value: unknown, allow: AllowList): NotifyTargets | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid('notify must be an object: {"webhook": "https://…", "email": "me@example.com"}')
  const { webhook, email, ...rest } = value as Record<string, unknown>
  const extra = Object.keys(rest)[0]
  if (extra !== undefined) throw invalid(`notify.${extra} is not allowed; notify takes webhook and email`)
  const targets: NotifyTargets = {}
  if (webhook !== undefined) targets.webhook = checkWebhook(webhook, allow)
  if (email !== undefined) {
    if (typeof email !== 'string' || !EMAIL.test(email)) throw invalid('notify.email must be an email address')
    targets.email = email
  }
  return targets.webhook === undefined && targets.email === undefined ? null : targets
}

/**
 * Where a start's end is told: its own `notify` when it has one (checked: a 4xx names what is wrong; null or `{}`:
 * nowhere), else the owner's defaults, checked when they were set.
 */
export async function resolveNotify (store: Pick<NotificationStore, 'notifyDefaults'>, owner: string, value: unknown, allow: AllowList): Promise<NotifyTargets | null> {
  if (value !== undefined) return parseNotify(value, allow)
  return await store.notifyDefaults(owner)
}

function checkWebhook (value: unknown, allow: AllowList): string {
  let url: URL
  try {
    if (typeof value !== 'string' || value.length > 2048) throw new Error('not a string')
    url = new URL(value)
  } catch {
    throw invalid('notify.webhook must be an absolute http(s) URL of at most 2048 characters')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('notify.webhook must be an http(s) URL')
  if (url.username !== '' || url.password !== '') throw invalid('notify.webhook must not carry credentials; the signature authenticates jobcast')
  const host = unbracket(url.hostname)
  if (isIP(host) !== 0 && !isAllowedHost(host, allow)) {
    try {
      assertAddressAllowed(host, host, allow)
    } catch (err) {
      throw new ClientError(422, 'CALLBACK_NOT_ALLOWED', `notify.webhook: ${(err as Error).message}`)
    }
  }
  return url.toString()
}

function invalid (message: string): ClientError {
  return new ClientError(400, 'INVALID_NOTIFY', message)
}
