import type { Logger } from 'pino'
import { AbortReason } from '../errors.ts'
import { parseNotify } from '../notify/notify-targets.ts'
import type { FileStore } from '../ports/file-store.ts'
import type { JobEvents } from '../ports/job-events.ts'
import type { JobStore } from '../ports/job-store.ts'
import type { ServiceLimiter } from '../ports/service-limiter.ts'
import type { JobViews } from '../schemas/job.ts'
import type { BatchLimits } from '../uploads/receive-batch.ts'
import type { PartsSource } from '../uploads/receive-upload.ts'
import { BatchIntake, type SubmittedBatch } from './batch-intake.ts'
import type { BatchRecord, NotifyTargets } from './batch-model.ts'
import { BatchQueries } from './batch-queries.ts'
import { JobIntake, type SubmitOptions, type Submitted } from './job-intake.ts'
import { JobQueries, type JobPage, type Snapshot } from './job-queries.ts'
import { JobRunner } from './job-runner.ts'
import { Lifecycle } from './lifecycle.ts'
import { createNotifications, type NotificationSettings, type Notifications } from './notifications.ts'
import { TERMINAL_EVENTS, TERMINAL_STATES, type JobQuery, type JobRecord } from './model.ts'
import type { JobRegistry } from './registry.ts'
import { Retention } from './retention.ts'

/** The settings of the engine (from the server's Config). */
export interface EngineSettings {
  node: string
  concurrency: number
  userConcurrency: number
  maxQueuedPerUser: number
  retentionMs: number
  leaseMs: number
  pollMs: number
  progressIntervalMs: number
  abortGraceMs: number
  /** Largest result kept on a job, in bytes of JSON (default 1 MiB). */
  maxResultBytes?: number | undefined
  /** Limits of one batch request. */
  batchLimits: BatchLimits
  /** Webhooks and email when jobs and batches end. */
  notifications: Omit<NotificationSettings, 'pollMs'>
}

/** What the engine runs on. */
export interface EngineAdapters {
  store: JobStore
  events: JobEvents
  files: FileStore
  /** Where service limits are held (default: in this process); shared by nodes that share the store. */
  limiter?: ServiceLimiter | undefined
}

// How long a live node takes at most to stop a job it is asked to cancel, on top of the abort grace: it hears the
// request at once (or sees it recorded at its next heartbeat) and writes the outcome.
const LIVE_STOP_MS = 2000

/**
 * jobcast's engine as one object — what `fastify.jobcast` is: start, read, list and cancel jobs, and the parts
 * (intake, runner, queries) that do it. It knows nothing of HTTP.
 */
export class JobcastService {
  readonly store: JobStore
  readonly events: JobEvents
  readonly files: FileStore
  readonly registry: JobRegistry
  readonly views: JobViews
  readonly lifecycle: Lifecycle
  readonly intake: JobIntake
  readonly runner: JobRunner
  readonly queries: JobQueries
  readonly retention: Retention
  readonly batchIntake: BatchIntake
  readonly batches: BatchQueries
  readonly notifications: Notifications
  readonly #abortGraceMs: number
  readonly #allow: NotificationSettings['allow']
  #unsubscribe: (() => void) | undefined
  #accepting = false
  #dispatchTimer: NodeJS.Timeout | undefined

  constructor (adapters: EngineAdapters, registry: JobRegistry, views: JobViews, settings: EngineSettings, log: Logger) {
    const { store, events, files } = adapters
    this.store = store
    this.events = events
    this.files = files
    this.registry = registry
    this.views = views
    this.#abortGraceMs = settings.abortGraceMs
    this.#allow = settings.notifications.allow
    this.lifecycle = new Lifecycle({ store, events, views, log })
    this.runner = new JobRunner({ ...settings, store, events, files, registry, lifecycle: this.lifecycle, log, limiter: adapters.limiter })
    this.intake = new JobIntake({
      store,
      files,
      registry,
      lifecycle: this.lifecycle,
      maxQueuedPerUser: settings.maxQueuedPerUser,
      allow: settings.notifications.allow,
      accepting: () => this.#accepting,
      onCreated: () => { this.runner.wake() }
    })
    this.batchIntake = new BatchIntake({
      store,
      files,
      registry,
      lifecycle: this.lifecycle,
      limits: settings.batchLimits,
      maxQueuedPerUser: settings.maxQueuedPerUser,
      allow: settings.notifications.allow,
      accepting: () => this.#accepting,
      onCreated: () => { this.runner.wake() }
    })
    this.batches = new BatchQueries({ store, views })
    this.notifications = createNotifications({ store, views, batches: this.batches, log }, { ...settings.notifications, pollMs: settings.pollMs })
    this.queries = new JobQueries({ store, events, files, views, batches: this.batches })
    this.retention = new Retention({ store, files, retentionMs: settings.retentionMs, log })
  }

  /** Takes starts and runs work. Safe to call twice. */
  async start (): Promise<void> {
    this.#accepting = true
    await this.runner.start()
    this.retention.start()
    // A terminal write carries its outbox rows (and a batch's end): look for them as soon as it is announced.
    // A finished job or batch may have notifications due: one look per 50 ms at most, not a store query per job.
    // Only this node's own writes (the record attached): the node that wrote the outbox rows sends them, and every
    // node's poll finds those of a node that stopped first (a look per other node's job was two queries each).
    this.#unsubscribe ??= this.events.subscribe((event) => {
      if (!TERMINAL_EVENTS.has(event.kind) || event.job === undefined || this.#dispatchTimer !== undefined) return
      this.#dispatchTimer = setTimeout(() => {
        this.#dispatchTimer = undefined
        this.notifications.dispatcher.wake()
      }, 50)
    })
    this.notifications.dispatcher.start()
  }

  /** Stops taking starts, then stops the runner gracefully (see {@link JobRunner.stop}). Safe to call twice. */
  async stop (graceMs: number): Promise<void> {
    this.#accepting = false
    this.retention.stop()
    await this.runner.stop(graceMs)
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
    clearTimeout(this.#dispatchTimer)
    this.#dispatchTimer = undefined
    await this.notifications.dispatcher.stop()
  }

  /** Releases what notifications hold open (the outbound agent, the SMTP pool); after {@link stop}. Safe to call twice. */
  async close (): Promise<void> {
    await this.notifications.close()
  }

  /** Starts a batch of `type` for `owner` from multipart parts: every child is durable when it resolves. */
  async submitBatch (owner: string, type: string, parts: PartsSource, options?: { idempotencyKey?: string | undefined, notify?: unknown }): Promise<SubmittedBatch> {
    return await this.batchIntake.submit(owner, type, parts, options)
  }

  /**
   * Cancels every unfinished child of the owner's batch (queued ones first, then running ones, wherever they run);
   * finished children keep their results. Resolves with the batch, or undefined when the owner has no such batch.
   */
  async cancelBatch (owner: string, id: string): Promise<BatchRecord | undefined> {
    const batch = await this.batches.get(owner, id)
    if (batch === undefined) return undefined
    const children = await this.batches.children(batch)
    const unfinished = children.filter((job) => !TERMINAL_STATES.has(job.state))
    const queuedFirst = [...unfinished.filter((job) => job.state === 'queued'), ...unfinished.filter((job) => job.state !== 'queued')]
    for (const job of queuedFirst) await this.cancel(owner, job.id)
    return await this.batches.get(owner, id)
  }

  /** The owner's default notify targets, for starts without `notify`; null when none. */
  async notifyDefaults (owner: string): Promise<NotifyTargets | null> {
    return await this.store.notifyDefaults(owner)
  }

  /**
   * Checks `value` as a start's `notify` is checked (400 INVALID_NOTIFY, 422 CALLBACK_NOT_ALLOWED) and makes it the
   * owner's defaults (null or `{}`: none); resolves with what was set.
   */
  async setNotifyDefaults (owner: string, value: unknown): Promise<NotifyTargets | null> {
    const targets = parseNotify(value, this.#allow)
    await this.store.setNotifyDefaults(owner, targets)
    return targets
  }

  /** Starts a job of `type` for `owner`; resolves once it is durable. */
  async submit (owner: string, type: string, input: unknown, options?: SubmitOptions): Promise<Submitted> {
    return await this.intake.submit(owner, type, input, options)
  }

  /** Starts a job from multipart parts (files streamed to the file store). */
  async submitUpload (owner: string, type: string, parts: PartsSource, options?: SubmitOptions): Promise<Submitted> {
    return await this.intake.submitUpload(owner, type, parts, options)
  }

  /** The owner's job. */
  async get (owner: string, id: string): Promise<JobRecord | undefined> {
    return await this.queries.get(owner, id)
  }

  /** The owner's jobs, newest first. */
  async list (owner: string, query: JobQuery): Promise<JobPage> {
    return await this.queries.list(owner, query)
  }

  /** The owner's active and recent work with its cursor. */
  async snapshot (owner: string): Promise<Snapshot> {
    return await this.queries.snapshot(owner)
  }

  /**
   * Cancels a queued or running job, wherever it runs; resolves with the job once it has stopped (or as it is when
   * it had finished already), or still running when its node does not answer and its lease holds for a while yet:
   * the cancel is recorded then, and the job ends canceled when its lease runs out. Undefined when the owner has no
   * such job.
   */
  async cancel (owner: string, id: string): Promise<JobRecord | undefined> {
    for (let tries = 0; tries < 10; tries++) {
      const job = await this.queries.get(owner, id)
      if (job === undefined || TERMINAL_STATES.has(job.state)) return job
      if (job.state === 'queued') {
        const canceled = await this.lifecycle.transition(job, 'canceled', { state: 'canceled', finishedAt: Date.now(), error: { code: 'CANCELED', message: 'canceled by its owner before it started' } })
        if (canceled !== undefined) return canceled
        continue // claimed or changed meanwhile: look again
      }
      if (await this.runner.abortLocal(id, new AbortReason('canceled', 'canceled by its owner while it ran'))) continue
      const now = Date.now()
      if (job.lease === null || job.lease.expiresAt <= now) {
        // Its node stopped renewing the lease (killed, cut off): it may no longer write the job, and any node may
        // end it, as the reaper would. Compare-and-set: if a reap or a late write got there first, look again.
        const canceled = await this.lifecycle.transition(job, 'canceled', { state: 'canceled', finishedAt: now, lease: null, error: { code: 'CANCELED', message: 'canceled by its owner; the node running it had stopped' } })
        if (canceled !== undefined) return canceled
        continue
      }
      // Running on another node: ask it, and wait for the job to end there. A live node stops it within a heartbeat
      // and the abort grace. One that died leaves it running until its lease runs out: waited for when that is
      // sooner; else the answer is the job still running, its cancel recorded, and the reaper of whichever node
      // finds the lease out ends it canceled (a request held for a whole lease, 30 s by default, looked hung).
      const leaseLeftMs = job.lease.expiresAt - now + 50
      const waitMs = this.#abortGraceMs + LIVE_STOP_MS
      const ended = this.#untilEnded(id, Math.min(waitMs, leaseLeftMs))
      // Recorded on the job (its node sees it at its next heartbeat), and announced (its node hears it at once).
      if (!await this.store.requestCancel(id)) {
        ended.stop() // no longer running: look again
        continue
      }
      await this.events.requestCancel(id)
      if (!await ended.done && leaseLeftMs > waitMs) return await this.queries.get(owner, id)
    }
    return await this.queries.get(owner, id)
  }

  // Resolves `done` with true when the job stops running, false after `timeoutMs` or `stop()`.
  #untilEnded (id: string, timeoutMs: number): { done: Promise<boolean>, stop: () => void } {
    let stop!: () => void
    const done = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { end(false) }, timeoutMs)
      const unsubscribe = this.events.subscribe((event) => {
        if (event.jobId === id && (TERMINAL_EVENTS.has(event.kind) || event.kind === 'retrying' || event.kind === 'queued')) end(true)
      })
      function end (stopped: boolean): void {
        clearTimeout(timer)
        unsubscribe()
        resolve(stopped)
      }
      stop = () => { end(false) }
    })
    return { done, stop }
  }
}
