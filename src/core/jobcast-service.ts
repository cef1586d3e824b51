import type { Logger } from 'pino'
import { AbortReason } from '../errors.ts'
import type { FileStore } from '../ports/file-store.ts'
import type { JobEvents } from '../ports/job-events.ts'
import type { JobStore } from '../ports/job-store.ts'
import type { JobViews } from '../schemas/job.ts'
import type { PartsSource } from '../uploads/receive-upload.ts'
import { JobIntake, type SubmitOptions, type Submitted } from './job-intake.ts'
import { JobQueries, type JobPage, type Snapshot } from './job-queries.ts'
import { JobRunner } from './job-runner.ts'
import { Lifecycle } from './lifecycle.ts'
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
}

/** What the engine runs on. */
export interface EngineAdapters {
  store: JobStore
  events: JobEvents
  files: FileStore
}

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
  readonly #abortGraceMs: number
  #accepting = false

  constructor (adapters: EngineAdapters, registry: JobRegistry, views: JobViews, settings: EngineSettings, log: Logger) {
    const { store, events, files } = adapters
    this.store = store
    this.events = events
    this.files = files
    this.registry = registry
    this.views = views
    this.#abortGraceMs = settings.abortGraceMs
    this.lifecycle = new Lifecycle({ store, events, views, log })
    this.runner = new JobRunner({ ...settings, store, events, files, registry, lifecycle: this.lifecycle, log })
    this.intake = new JobIntake({
      store,
      files,
      registry,
      lifecycle: this.lifecycle,
      maxQueuedPerUser: settings.maxQueuedPerUser,
      accepting: () => this.#accepting,
      onCreated: () => { this.runner.wake() }
    })
    this.queries = new JobQueries({ store, events, files, views })
    this.retention = new Retention({ store, files, retentionMs: settings.retentionMs, log })
  }

  /** Takes starts and runs work. Safe to call twice. */
  async start (): Promise<void> {
    this.#accepting = true
    await this.runner.start()
    this.retention.start()
  }

  /** Stops taking starts, then stops the runner gracefully (see {@link JobRunner.stop}). Safe to call twice. */
  async stop (graceMs: number): Promise<void> {
    this.#accepting = false
    this.retention.stop()
    await this.runner.stop(graceMs)
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
   * it had finished already). Undefined when the owner has no such job.
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
      // Running on another node: ask it, and wait for the job to end there.
      const ended = this.#untilEnded(id, this.#abortGraceMs + 2000)
      // Recorded on the job (its node sees it at its next heartbeat), and announced (its node hears it at once).
      if (!await this.store.requestCancel(id)) {
        ended.stop() // no longer running: look again
        continue
      }
      await this.events.requestCancel(id)
      await ended.done
    }
    return await this.queries.get(owner, id)
  }

  // Resolves `done` when the job stops running (or after `timeoutMs`); `stop` gives up waiting.
  #untilEnded (id: string, timeoutMs: number): { done: Promise<void>, stop: () => void } {
    let stop!: () => void
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(end, timeoutMs)
      const unsubscribe = this.events.subscribe((event) => {
        if (event.jobId === id && (TERMINAL_EVENTS.has(event.kind) || event.kind === 'retrying' || event.kind === 'queued')) end()
      })
      function end (): void {
        clearTimeout(timer)
        unsubscribe()
        resolve()
      }
      stop = end
    })
    return { done, stop }
  }
}
