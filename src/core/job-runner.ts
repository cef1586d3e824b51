import type { Logger } from 'pino'
import { AbortReason, PermanentError, RetryableError, toJobError } from '../errors.ts'
import type { FileStore } from '../ports/file-store.ts'
import type { JobEvents, Unsubscribe } from '../ports/job-events.ts'
import type { ClaimBounds, JobStore } from '../ports/job-store.ts'
import type { ServiceLimiter } from '../ports/service-limiter.ts'
import { boundedResult } from './bounded-result.ts'
import type { JobDefinition } from './define-job.ts'
import { createJobContext } from './job-context.ts'
import { KeyLimiters } from './key-limiter.ts'
import type { Lifecycle } from './lifecycle.ts'
import { LiveJob } from './live-job.ts'
import type { JobPatch, JobRecord } from './model.ts'
import type { JobRegistry } from './registry.ts'
import { retryDelay } from './retry.ts'

/** Settings of a runner. */
export interface JobRunnerOptions {
  store: JobStore
  events: JobEvents
  lifecycle: Lifecycle
  registry: JobRegistry
  files: FileStore
  log: Logger
  /** This node's id, written into the leases it takes. */
  node: string
  /** Jobs running at once on this node. */
  concurrency: number
  /** Jobs of one user running at once (cluster-wide where the store is shared). */
  userConcurrency: number
  /** How long a claim holds without a heartbeat, in ms; heartbeats go at a third of it. */
  leaseMs: number
  /** Least time between two looks for work when nothing announced any, in ms (other nodes' retries, missed wake-ups). */
  pollMs: number
  /** Least time between two progress writes (and events) of one job, in ms. */
  progressIntervalMs: number
  /** How long a handler may go on after its signal fired before its slot is taken back, in ms. */
  abortGraceMs: number
  /** Largest result kept on the job, in bytes of JSON; a larger one becomes the artifact `result.json` (default 1 MiB). */
  maxResultBytes?: number | undefined
  /** Where job types' service limits are held (default: in this process, exact for one node). */
  limiter?: ServiceLimiter | undefined
}

type Outcome = { ok: true, value: unknown } | { ok: false, error: unknown }

/**
 * Runs jobs on this node: claims runnable work from the store in fair order whenever it has free slots, runs each
 * handler with its signal, timeout and retries, renews the leases of what it runs, re-queues the jobs of nodes that
 * stopped renewing theirs, and stops gracefully. Every change it makes goes through the {@link Lifecycle}.
 */
export class JobRunner {
  readonly #o: JobRunnerOptions
  readonly #bounds: ClaimBounds
  readonly #live = new Map<string, LiveJob>()
  // Jobs whose handler has returned and whose outcome is being written: no longer running, not yet gone.
  readonly #finishing = new Set<string>()
  // Until when each running job's lease holds, as far as this node knows (its last renewal that succeeded).
  readonly #leaseUntil = new Map<string, number>()
  readonly #idle = new Set<() => void>()
  readonly #limiters: ServiceLimiter
  #subscriptions: Unsubscribe[] = []
  #timers: NodeJS.Timeout[] = []
  #runAtTimer: NodeJS.Timeout | undefined
  #soonTimer: NodeJS.Timeout | undefined
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new'
  #claiming = false
  // The claim under way, if any: stop() waits for it, so that it never queries a store closed after the stop.
  #filling: Promise<void> | undefined
  #wakeAgain = false

  constructor (options: JobRunnerOptions) {
    this.#o = options
    this.#limiters = options.limiter ?? new KeyLimiters()
    this.#bounds = {
      userConcurrency: options.userConcurrency,
      typeConcurrency: (type) => options.registry.get(type)?.concurrency
    }
  }

  /** Jobs running on this node now (handlers that have not returned). */
  get running (): number {
    return this.#live.size - this.#finishing.size
  }

  /** Whether it takes work (between start and stop). */
  get active (): boolean {
    return this.#state === 'running'
  }

  /** Re-queues what dead nodes left running, then takes work. Safe to call twice. */
  async start (): Promise<void> {
    if (this.#state !== 'new') return
    this.#state = 'running'
    const { events, leaseMs, pollMs } = this.#o
    this.#subscriptions.push(events.subscribe((event) => {
      // Work became runnable somewhere (a start, a retry, a job stopped by shutdown): look for it. Another node's
      // event (no record attached) is that node's to claim first; this one looks a moment later, once for a burst,
      // rather than every node racing for every job under the store's claim lock.
      if (!(event.kind === 'queued' || event.kind === 'retrying' || TERMINAL.has(event.kind))) return
      if (event.job === undefined) this.#wakeSoon()
      else this.wake()
    }))
    this.#subscriptions.push(events.onCancelRequest((jobId) => {
      this.#live.get(jobId)?.abort(new AbortReason('canceled', 'canceled by its owner while it ran'))
    }))
    this.#every(Math.max(50, Math.floor(leaseMs / 3)), async () => { await this.#heartbeat() })
    this.#every(Math.max(50, Math.floor(leaseMs / 2)), async () => { await this.#reap() })
    this.#every(pollMs, async () => { this.wake() })
    await this.#reap()
    this.wake()
  }

  /** Looks for work now (coalesced: one claim at a time, again if woken meanwhile). */
  wake (): void {
    if (this.#state !== 'running') return
    if (this.#claiming) {
      this.#wakeAgain = true
      return
    }
    this.#claiming = true
    this.#filling = this.#fill().finally(() => { this.#claiming = false })
  }

  #wakeSoon (): void {
    if (this.#soonTimer !== undefined || this.#state !== 'running') return
    this.#soonTimer = setTimeout(() => {
      this.#soonTimer = undefined
      this.wake()
    }, REMOTE_WAKE_MS)
  }

  async #fill (): Promise<void> {
    const { store, node, concurrency, leaseMs, log } = this.#o
    try {
      do {
        this.#wakeAgain = false
        // A job whose handler has returned frees its slot while its outcome is written (a write that waits for the
        // store no longer holds a slot up), up to as many outcomes in writing as there are slots.
        const free = Math.min(concurrency - this.running, 2 * concurrency - this.#live.size)
        if (free <= 0 || this.#state !== 'running') return
        const claimed = await store.claim(node, free, this.#bounds, leaseMs)
        for (const job of claimed) this.#run(job)
        if (claimed.length === free) this.#wakeAgain = true
        else await this.#armRunAtTimer()
      } while (this.#wakeAgain && this.#state === 'running')
    } catch (err) {
      log.error({ err }, 'claiming jobs failed; trying again at the next wake-up')
    }
  }

  // Work delayed to a runAt (a retry's backoff) is claimable then: wake at that time.
  async #armRunAtTimer (): Promise<void> {
    const at = await this.#o.store.nextRunAt()
    clearTimeout(this.#runAtTimer)
    if (at === undefined || this.#state !== 'running') return
    // Not unref'd: a job waiting for its retry is work in hand, like a running one.
    this.#runAtTimer = setTimeout(() => { this.wake() }, Math.max(0, at - Date.now()))
  }

  /** Stops the job if it runs here; resolves with whether it did. */
  async abortLocal (id: string, reason: AbortReason): Promise<boolean> {
    const live = this.#live.get(id)
    if (live === undefined) return false
    live.abort(reason)
    await live.settled()
    return true
  }

  /**
   * Stops taking jobs, lets running ones finish for up to `graceMs`, then aborts the rest; those go back to
   * `queued` (same attempt, checkpoint kept) for any node to run. Safe to call twice.
   */
  async stop (graceMs: number): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'new') {
      this.#state = 'stopped'
      return
    }
    if (this.#state === 'stopping') {
      await this.#whenIdle()
      return
    }
    this.#state = 'stopping'
    for (const timer of this.#timers) clearInterval(timer)
    clearTimeout(this.#runAtTimer)
    clearTimeout(this.#soonTimer)
    // What it claims meanwhile runs, and is stopped with the rest below.
    await this.#filling
    clearTimeout(this.#runAtTimer)
    clearTimeout(this.#soonTimer)
    let graceTimer: NodeJS.Timeout | undefined
    await Promise.race([this.#whenIdle(), new Promise<void>((resolve) => { graceTimer = setTimeout(resolve, graceMs) })])
    clearTimeout(graceTimer)
    for (const live of this.#live.values()) live.abort(new AbortReason('shutdown', 'the server is shutting down'))
    await this.#whenIdle()
    for (const unsubscribe of this.#subscriptions) unsubscribe()
    this.#subscriptions = []
    this.#state = 'stopped'
  }

  async #whenIdle (): Promise<void> {
    if (this.#live.size === 0) return
    await new Promise<void>((resolve) => { this.#idle.add(resolve) })
  }

  #every (ms: number, fn: () => Promise<void>): void {
    const timer = setInterval(() => {
      fn().catch((err: unknown) => { this.#o.log.error({ err }, 'runner maintenance failed') })
    }, ms)
    timer.unref()
    this.#timers.push(timer)
  }

  // Renews the leases of what runs here; a job whose lease was lost (this node was presumed dead) is stopped.
  async #heartbeat (): Promise<void> {
    // A job whose outcome is being written is no longer `running` in the store: not renewed, not reported lost.
    const ids = [...this.#live.keys()].filter((id) => !this.#finishing.has(id))
    if (ids.length === 0) return
    const sent = Date.now()
    let answer: Awaited<ReturnType<JobStore['heartbeat']>>
    try {
      answer = await this.#o.store.heartbeat(this.#o.node, ids, this.#o.leaseMs)
    } catch (err) {
      this.#stopExpired()
      throw err
    }
    const { lost, canceled } = answer
    const kept = new Set(ids)
    for (const id of lost) kept.delete(id)
    for (const id of kept) if (this.#leaseUntil.has(id)) this.#leaseUntil.set(id, sent + this.#o.leaseMs)
    for (const id of lost) {
      if (this.#finishing.has(id) || !this.#live.has(id)) continue // it finished meanwhile
      this.#o.log.warn({ jobId: id }, 'lost the lease of a running job (another node re-queued it); stopping it here')
      this.#live.get(id)?.abort(new AbortReason('lease-lost', 'this node lost its lease on the job'))
    }
    // A cancel whose notification this node missed (its LISTEN connection was down): recorded on the job.
    for (const id of canceled) this.#live.get(id)?.abort(new AbortReason('canceled', 'canceled by its owner while it ran'))
  }

  // The store cannot be reached (a partition, a restart): a job whose lease ran out by this node's reckoning may
  // be taken by another node any moment, so it stops here rather than run twice. Its next attempt resumes it.
  #stopExpired (): void {
    const now = Date.now()
    for (const [id, until] of this.#leaseUntil) {
      if (until > now) continue
      this.#o.log.warn({ jobId: id }, 'could not renew the lease of a running job before it ran out; stopping it here')
      this.#live.get(id)?.abort(new AbortReason('lease-lost', 'this node could not renew its lease on the job'))
    }
  }

  // Jobs whose node stopped renewing their lease: queued again for their next attempt, or failed with none left.
  async #reap (): Promise<void> {
    const { store, lifecycle, log } = this.#o
    const now = Date.now()
    for (const job of await store.expiredLeases(now, 100)) {
      if (this.#live.has(job.id)) continue
      if (job.cancelRequested === true) {
        // Its owner canceled it while its node was gone: it ends here, it does not run again.
        const message = `canceled by its owner while the node running attempt ${job.attempt} was stopped`
        if (await lifecycle.transition(job, 'canceled', { state: 'canceled', finishedAt: now, lease: null, error: { code: 'CANCELED', message } }) !== undefined) {
          log.warn({ jobId: job.id }, 'job canceled while its node was stopped: ended canceled')
        }
      } else if (job.attempt >= job.maxAttempts) {
        const message = `the node running attempt ${job.attempt} of ${job.maxAttempts} stopped, and no attempt is left`
        if (await lifecycle.transition(job, 'failed', { state: 'failed', finishedAt: now, lease: null, error: { code: 'INTERRUPTED', message } }) !== undefined) {
          log.warn({ jobId: job.id }, 'job interrupted with no attempt left: failed')
        }
      } else {
        const message = `the node running attempt ${job.attempt} stopped; attempt ${job.attempt + 1} resumes from the last checkpoint`
        if (await lifecycle.transition(job, 'retrying', { state: 'queued', attempt: job.attempt + 1, runAt: now, lease: null, error: { code: 'INTERRUPTED', message } }) !== undefined) {
          log.warn({ jobId: job.id, attempt: job.attempt + 1 }, 'job interrupted: queued again')
        }
      }
    }
  }

  #run (job: JobRecord): void {
    const { lifecycle, progressIntervalMs, log } = this.#o
    const live = new LiveJob(job, async (current, kind, patch) => kind === undefined
      ? await lifecycle.write(current, patch)
      : await lifecycle.transition(current, kind, patch), progressIntervalMs, (err) => {
      log.warn({ err, jobId: job.id }, 'a progress write failed; the next write carries the latest value')
    })
    this.#live.set(job.id, live)
    this.#leaseUntil.set(job.id, job.lease?.expiresAt ?? Date.now() + this.#o.leaseMs)
    this.#execute(live).catch((err: unknown) => {
      this.#o.log.error({ err, jobId: job.id }, 'running a job failed unexpectedly')
    }).finally(() => {
      this.#live.delete(job.id)
      this.#finishing.delete(job.id)
      this.#leaseUntil.delete(job.id)
      live.markSettled()
      if (this.#live.size === 0) {
        for (const resolve of this.#idle) resolve()
        this.#idle.clear()
      }
      this.wake()
    })
  }

  async #execute (live: LiveJob): Promise<void> {
    const { registry, log, lifecycle, abortGraceMs } = this.#o
    const job = live.record
    const definition = registry.get(job.type)
    if (definition === undefined) {
      await live.write('failed', { state: 'failed', finishedAt: Date.now(), lease: null, error: { code: 'UNKNOWN_JOB_TYPE', message: `job type "${job.type}" is not registered on this server` } })
      return
    }
    // The handler need not wait for its `started` event to be stored: events are published in call order, and the
    // outcome below is written only once it is (the round trip had been a quarter of a no-op job's cycle).
    const started = lifecycle.started(job)
    const jobLog = log.child({ jobId: job.id, owner: job.owner, type: job.type, attempt: job.attempt })
    const timeout = definition.timeoutMs === undefined
      ? undefined
      : setTimeout(() => { live.abort(new AbortReason('timeout', `the job ran longer than its limit of ${definition.timeoutMs} ms`)) }, definition.timeoutMs)
    let outcome: Outcome
    try {
      const ctx = createJobContext(live, { store: this.#o.store, files: this.#o.files, log: jobLog })
      const onAbandon = (): void => { jobLog.warn('handler did not stop within the abort grace period; its slot is taken back') }
      outcome = { ok: true, value: await live.race(this.#limited(definition, ctx), abortGraceMs, onAbandon) }
    } catch (error) {
      outcome = { ok: false, error }
    } finally {
      clearTimeout(timeout)
    }
    live.close()
    await started
    // Out of `running` from here until #run's cleanup drops it from #live too (never counted as running in between).
    this.#finishing.add(job.id)
    this.wake()
    await this.#finish(definition, live, outcome, jobLog)
  }

  // The handler, inside its service's limits when the type names one.
  async #limited (definition: JobDefinition, ctx: Parameters<JobDefinition['run']>[0]): Promise<unknown> {
    if (definition.limits === undefined) return await definition.run(ctx)
    const release = await this.#limiters.acquire(definition.limits, ctx.signal)
    try {
      return await definition.run(ctx)
    } finally {
      release()
    }
  }

  // Writes the attempt's outcome: completed, canceled, failed, retrying, or queued again after a shutdown.
  async #finish (definition: JobDefinition, live: LiveJob, outcome: Outcome, log: Logger): Promise<void> {
    // Writes still on their way (a checkpoint, a progress) land first: the outcome is written on top of them.
    await live.drain()
    const now = Date.now()
    const reason = live.controller.signal.reason as unknown
    const progress = live.takePending() ?? live.record.progress
    const write = async (kind: Parameters<LiveJob['write']>[0], patch: JobPatch): Promise<boolean> => {
      // The final value of the progress first, as its own event, then the change.
      if (progress !== live.record.progress) await live.write('progress', { progress })
      return await live.write(kind, { lease: null, ...patch }) !== undefined
    }
    if (live.lost || (reason instanceof AbortReason && reason.kind === 'lease-lost')) {
      log.warn('the job was taken over by another node; this attempt\'s outcome is dropped')
      return
    }
    if (reason instanceof AbortReason && reason.kind === 'shutdown') {
      if (await write('queued', { state: 'queued', runAt: now })) log.info('stopped by shutdown: queued again')
      return
    }
    if (reason instanceof AbortReason && reason.kind === 'canceled') {
      if (await write('canceled', { state: 'canceled', finishedAt: now, error: reason.toJSON() })) log.info('canceled')
      return
    }
    if (outcome.ok && !(reason instanceof AbortReason)) {
      let result: unknown
      try {
        result = await boundedResult(outcome.value ?? null, live.record, { files: this.#o.files, store: this.#o.store, maxBytes: this.#o.maxResultBytes ?? 1024 * 1024 })
      } catch (err) {
        if (await write('failed', { state: 'failed', error: toJobError(err), finishedAt: now })) log.warn({ err }, 'failed: its result could not be stored')
        return
      }
      const final = progress === null ? null : { ...progress, current: progress.total ?? progress.current, percent: 100, etaMs: 0 }
      if (await write('completed', { state: 'completed', progress: final, result, error: null, finishedAt: now })) log.info('completed')
      return
    }
    const error = reason instanceof AbortReason || outcome.ok ? reason : outcome.error
    const jobError = toJobError(error)
    const job = live.record
    const retryable = !(error instanceof PermanentError) && !(error instanceof AbortReason)
    if (retryable && job.attempt < job.maxAttempts) {
      const waitMs = retryDelay(definition.retry ?? { attempts: 1 }, job.attempt, retryAfterOf(error))
      if (await write('retrying', { state: 'queued', error: jobError, attempt: job.attempt + 1, runAt: now + waitMs })) log.warn({ err: error, waitMs }, 'attempt failed; retrying')
      return
    }
    if (await write('failed', { state: 'failed', error: jobError, finishedAt: now })) log.warn({ err: error }, 'failed')
  }
}

// How long after another node's event this one looks for work (coalescing a burst of them into one claim).
const REMOTE_WAKE_MS = 50

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'canceled'])

// The least wait a failure asks for: RetryableError.retryAfterMs, or any error's own retryAfterMs.
function retryAfterOf (error: unknown): number {
  if (error instanceof RetryableError) return error.retryAfterMs ?? 0
  const value = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs
  return typeof value === 'number' && Number.isFinite(value) ? value : 0
}
