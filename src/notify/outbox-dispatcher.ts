// Delivers the outbox: pending deliveries due now, one attempt each, recorded, retried on the schedule.

import type { Logger } from 'pino'
import type { DeliveryRecord, DeliveryState, StoredAttempt } from '../core/batch-model.ts'
import type { NotificationStore } from '../ports/batch-store.ts'
import { deliverWebhook, type DeliveryAttempt, type DeliveryTransport } from './deliver-webhook.ts'
import type { EndSummary, Mailer } from './email.ts'
import { nextStep, RETRY_SCHEDULE_MS, type NextStep } from './retry-schedule.ts'

/** What a delivery says: the webhook body (the same on every attempt) and the email's summary. */
export interface RenderedNotification {
  body: string
  summary: EndSummary
}

/** Settings of the dispatcher. */
export interface OutboxDispatcherOptions {
  store: NotificationStore
  log: Logger
  transport: DeliveryTransport
  /** Absent: email is off, and email deliveries fail with EMAIL_OFF. */
  mailer?: Mailer | undefined
  /** The message of a delivery's subject, or undefined when the subject is gone (retention). */
  render: (delivery: DeliveryRecord) => Promise<RenderedNotification | undefined>
  /** Least time between two looks for due deliveries that nothing announced, in ms. */
  pollMs: number
  /** How long a taken delivery stays away from other takers, in ms (longer than one attempt can last). */
  leaseMs?: number
  schedule?: readonly number[]
}

/** Deliveries taken per look. */
const TAKE = 20

/**
 * The outbox's sender: takes due deliveries (leased, so that two nodes never send one at once and a node that dies
 * leaves it due again: at least once, with the same `webhook-id`), makes one attempt each, records it with the
 * step after it (delivered, retry at, disabled by a 410, failed), and wakes at the next due time.
 */
export class OutboxDispatcher {
  readonly #o: OutboxDispatcherOptions
  #timer: NodeJS.Timeout | undefined
  #interval: NodeJS.Timeout | undefined
  #running = false
  // The look under way, if any: stop() waits for it, so that it never queries a store closed after the stop.
  #look: Promise<void> | undefined
  #again = false
  #stopped = true
  readonly #inFlight = new Set<Promise<void>>()

  constructor (options: OutboxDispatcherOptions) {
    this.#o = options
  }

  /** Starts looking for due deliveries. */
  start (): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#interval = setInterval(() => { this.wake() }, this.#o.pollMs)
    this.#interval.unref()
    this.wake()
  }

  /** Looks for due deliveries now (coalesced). */
  wake (): void {
    if (this.#stopped) return
    if (this.#running) {
      this.#again = true
      return
    }
    this.#running = true
    this.#look = this.#lookForDue().finally(() => { this.#running = false })
  }

  /** Stops taking deliveries and waits for the attempts under way. */
  async stop (): Promise<void> {
    this.#stopped = true
    clearInterval(this.#interval)
    clearTimeout(this.#timer)
    await this.#look
    await Promise.all([...this.#inFlight])
  }

  async #lookForDue (): Promise<void> {
    const { store, log } = this.#o
    try {
      do {
        this.#again = false
        const due = await store.takeDueDeliveries(Date.now(), TAKE, this.#o.leaseMs ?? 60_000)
        for (const delivery of due) {
          const attempt = this.#attempt(delivery).catch((err: unknown) => { log.error({ err, deliveryId: delivery.id }, 'a notification attempt failed unexpectedly; it is due again after its lease') })
          this.#inFlight.add(attempt)
          void attempt.finally(() => { this.#inFlight.delete(attempt); this.wake() })
        }
        if (due.length === TAKE) this.#again = true
      } while (this.#again && !this.#stopped)
      await this.#armTimer()
    } catch (err) {
      log.error({ err }, 'looking for due notifications failed; trying again at the next look')
    }
  }

  async #armTimer (): Promise<void> {
    const at = await this.#o.store.nextDeliveryAt()
    clearTimeout(this.#timer)
    if (at === undefined || this.#stopped) return
    this.#timer = setTimeout(() => { this.wake() }, Math.max(0, at - Date.now()))
    this.#timer.unref()
  }

  async #attempt (delivery: DeliveryRecord): Promise<void> {
    const { store, log } = this.#o
    const number = delivery.attempts.length + 1
    const rendered = await this.#o.render(delivery)
    let attempt: DeliveryAttempt
    if (rendered === undefined) {
      attempt = failure({ code: 'SUBJECT_GONE', message: `${delivery.subjectKind} ${delivery.subjectId} no longer exists` })
    } else if (delivery.channel === 'webhook') {
      const secret = await store.webhookSecret(delivery.owner)
      attempt = await deliverWebhook({ url: delivery.target, id: delivery.id, body: rendered.body, secret }, this.#o.transport)
    } else {
      attempt = await this.#email(delivery.target, rendered.summary)
    }
    const next: NextStep = rendered === undefined || attempt.error?.code === 'EMAIL_OFF'
      ? { kind: 'gave-up', reason: attempt.error!.message }
      : nextStep(number, attempt, this.#o.schedule ?? RETRY_SCHEDULE_MS)
    const state: DeliveryState = next.kind === 'retry' ? 'pending' : next.kind === 'gave-up' ? 'failed' : next.kind
    const stored: StoredAttempt = { number, ...attempt }
    await store.recordDelivery(delivery.id, stored, { state, nextAt: next.kind === 'retry' ? Date.now() + next.delayMs : null })
    log.info({ deliveryId: delivery.id, channel: delivery.channel, attempt: number, status: attempt.status, error: attempt.error?.code, next: next.kind }, 'notification attempt')
  }

  async #email (to: string, summary: EndSummary): Promise<DeliveryAttempt> {
    if (this.#o.mailer === undefined) return failure({ code: 'EMAIL_OFF', message: 'email is off: set JOBCAST_SMTP_URL' })
    const started = Date.now()
    try {
      await this.#o.mailer.send(to, summary)
      // 250 is SMTP's "accepted": the attempt reads like a delivered webhook.
      return { at: new Date(started).toISOString(), status: 250, error: null, durationMs: Date.now() - started, retryAfterMs: null }
    } catch (err) {
      const e = err as { code?: unknown, message?: string }
      return failure({ code: typeof e.code === 'string' ? e.code : 'SMTP_ERROR', message: e.message ?? String(err) }, started)
    }
  }
}

function failure (error: { code: string, message: string }, started = Date.now()): DeliveryAttempt {
  return { at: new Date(started).toISOString(), status: null, error, durationMs: Date.now() - started, retryAfterMs: null }
}
