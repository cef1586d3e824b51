// Delivers one webhook message to the end: attempts on the retry schedule, each recorded through a callback.

import { setTimeout as sleep } from 'node:timers/promises'
import { deliverWebhook, type DeliveryAttempt, type DeliveryTransport, type WebhookMessage } from './deliver-webhook.ts'
import { nextStep, RETRY_SCHEDULE_MS, type NextStep } from './retry-schedule.ts'

/** How a delivery ended. */
export type DeliveryState = 'delivered' | 'disabled' | 'failed'

/** Options of {@link sendWebhook}. */
export interface SendOptions {
  /** Called after every attempt, and awaited before the next: where the caller stores it (the outbox). */
  record: (attempt: DeliveryAttempt, number: number, next: NextStep) => Promise<void> | void
  /** Waits between attempts (default {@link RETRY_SCHEDULE_MS}). */
  schedule?: readonly number[]
  /** Attempts already made (after a restart, from the stored records; default 0). */
  attemptsMade?: number
  /** Stops waiting and attempting (shutdown); the promise then rejects with the signal's reason. */
  signal?: AbortSignal
}

/**
 * Sends `message` until it is delivered, disabled by a 410, or the schedule is spent. Keeps no state of its own:
 * every attempt goes to `record`, so a process that stops can resume from what was recorded (`attemptsMade`).
 */
export async function sendWebhook (message: WebhookMessage, transport: DeliveryTransport, options: SendOptions): Promise<{ state: DeliveryState, attempts: number }> {
  let attempts = options.attemptsMade ?? 0
  for (;;) {
    options.signal?.throwIfAborted()
    const attempt = await deliverWebhook(message, transport)
    attempts++
    const next = nextStep(attempts, attempt, options.schedule ?? RETRY_SCHEDULE_MS)
    await options.record(attempt, attempts, next)
    if (next.kind === 'delivered') return { state: 'delivered', attempts }
    if (next.kind === 'disabled') return { state: 'disabled', attempts }
    if (next.kind === 'gave-up') return { state: 'failed', attempts }
    if (next.delayMs > 0) await sleep(next.delayMs, undefined, { signal: options.signal })
  }
}
