import type { Logger } from 'pino'
import type { AllowList } from '../net/address-policy.ts'
import type { Agent } from 'undici'
import { createMailer, type Mailer } from '../notify/email.ts'
import { OutboxDispatcher, type RenderedNotification } from '../notify/outbox-dispatcher.ts'
import type { JobStore } from '../ports/job-store.ts'
import type { JobViews } from '../schemas/job.ts'
import type { DeliveryRecord } from './batch-model.ts'
import type { BatchQueries } from './batch-queries.ts'

/** What notifications are sent with. */
export interface NotificationSettings {
  /** Hosts and ranges webhooks may reach although not public (JOBCAST_ALLOW_PRIVATE_URLS). */
  allow: AllowList
  /** Empty: email is off. */
  smtpUrl: string
  smtpFrom: string
  pollMs: number
  /** Waits between webhook retries (default: the Standard Webhooks-style schedule up to a day). */
  schedule?: readonly number[]
}

/** The dispatcher of a service, and what it holds open. */
export interface Notifications {
  dispatcher: OutboxDispatcher
  /** Stops the dispatcher and releases the agent and mailer; safe to call twice. */
  close: () => Promise<void>
}

/**
 * The outbox dispatcher with its safe agent and mailer, and how a delivery's message is made: the job's or
 * batch's view at its end, in a Standard Webhooks-style envelope `{ type, timestamp, data }` (the same bytes on
 * every attempt, since an ended job or batch no longer changes).
 */
export function createNotifications (deps: { store: JobStore, views: JobViews, batches: BatchQueries, log: Logger }, settings: NotificationSettings): Notifications {
  const { store, views, batches, log } = deps
  // Made on the first webhook: a server that sends none never loads undici (see safeRequest).
  let agent: Promise<Agent> | undefined
  const agentOf = async (): Promise<Agent> => await (agent ??= import('../net/safe-agent.ts').then(({ createSafeAgent }) => createSafeAgent({ allow: settings.allow })))
  const mailer: Mailer | undefined = settings.smtpUrl === '' ? undefined : createMailer({ smtpUrl: settings.smtpUrl, from: settings.smtpFrom })
  const render = async (delivery: DeliveryRecord): Promise<RenderedNotification | undefined> => {
    if (delivery.subjectKind === 'job') {
      const job = await store.get(delivery.subjectId)
      if (job === undefined) return undefined
      const data = views.summary(job, await store.artifacts(job.id))
      const body = JSON.stringify({ type: `job.${job.state}`, timestamp: data.finishedAt, data })
      return { body, summary: { kind: 'job', id: job.id, type: job.type, state: job.state, finishedAt: data.finishedAt ?? '', url: data.url, error: job.error } }
    }
    const batch = await store.getBatch(delivery.subjectId)
    if (batch === undefined) return undefined
    const data = await batches.summary(batch)
    const body = JSON.stringify({ type: 'batch.done', timestamp: data.finishedAt, data })
    const counts = { total: data.total, completed: data.completed, failed: data.failed, canceled: data.canceled }
    return { body, summary: { kind: 'batch', id: batch.id, type: batch.type, state: 'done', finishedAt: data.finishedAt ?? '', url: data.url, counts } }
  }
  const dispatcher = new OutboxDispatcher({
    store,
    log: log.child({ component: 'notifications' }),
    transport: { dispatcher: agentOf, allow: settings.allow },
    mailer,
    render,
    pollMs: settings.pollMs,
    ...(settings.schedule === undefined ? {} : { schedule: settings.schedule })
  })
  let closed: Promise<void> | undefined
  return {
    dispatcher,
    close: async () => {
      closed ??= (async () => {
        await dispatcher.stop()
        mailer?.close()
        await (await agent)?.close()
      })()
      await closed
    }
  }
}
