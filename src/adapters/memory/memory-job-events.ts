import type { Logger } from 'pino'
import { Fifo } from '../../lib/fifo.ts'
import type { JobEvent, JobEventInput, JobEvents, Unsubscribe } from '../../ports/job-events.ts'

/** Settings of the in-process event log. */
export interface MemoryJobEventsOptions {
  /** Events kept per owner for replay (default 1000). */
  bufferSize?: number
  /** An owner with no event for this long has their history dropped; their cursors then get a snapshot (default 10 min). */
  idleMs?: number
  /** Distinguishes this process's cursors from those of an earlier run (default: the boot time, base 36). */
  epoch?: string
  /** Where listener errors are reported. */
  log?: Pick<Logger, 'error'>
}

// One owner's history: the last events, and the sequence below which replay is impossible.
interface History {
  ring: Fifo<JobEvent>
  seq: number
  floor: number
  lastActive: number
}

const CURSOR = /^([a-z0-9]{1,16})-(\d{1,15})$/

/**
 * The in-process {@link JobEvents}: listeners are called synchronously in publish order, each owner has their own
 * sequence (so a cursor says nothing about anyone else's activity) and a bounded ring for replay.
 */
export class MemoryJobEvents implements JobEvents {
  readonly epoch: string
  readonly #bufferSize: number
  readonly #idleMs: number
  readonly #log: Pick<Logger, 'error'> | undefined
  readonly #histories = new Map<string, History>()
  readonly #listeners = new Set<(event: JobEvent) => void>()
  readonly #cancelListeners = new Set<(jobId: string) => void>()
  #closed = false

  constructor (options: MemoryJobEventsOptions = {}) {
    this.#bufferSize = options.bufferSize ?? 1000
    this.#idleMs = options.idleMs ?? 10 * 60_000
    this.epoch = options.epoch ?? Date.now().toString(36)
    this.#log = options.log
  }

  /** Subscribed listeners (to check that streams leave none behind). */
  get listenerCount (): number {
    return this.#listeners.size
  }

  /** Publishes synchronously; the returned event is also what the promise of {@link publish} resolves with. */
  publishNow (input: JobEventInput): JobEvent {
    const history = this.#history(input.owner)
    const seq = ++history.seq
    const event: JobEvent = { ...input, cursor: `${this.epoch}-${seq}` }
    history.lastActive = Date.now()
    // Kept for replay without the record: it is for this moment's listeners, and it holds the job's whole input
    // (the last 1000 events of a user with 1 MB inputs held a gigabyte).
    const { job: _job, ...kept } = event
    history.ring.push(kept)
    while (history.ring.size > this.#bufferSize) history.floor = seqOf(history.ring.shift()!.cursor)
    if (!this.#closed) this.#deliver(this.#listeners, event, 'event listener failed')
    return event
  }

  async publish (input: JobEventInput): Promise<JobEvent> {
    return this.publishNow(input)
  }

  subscribe (listener: (event: JobEvent) => void): Unsubscribe {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /** Synchronous {@link since}: the in-process log needs no wait. */
  sinceNow (owner: string, cursor: string): JobEvent[] | undefined {
    const match = CURSOR.exec(cursor.trim())
    const history = this.#histories.get(owner)
    if (match === null || history === undefined || match[1] !== this.epoch) return undefined
    const seq = Number(match[2])
    if (seq < history.floor || seq > history.seq) return undefined
    const missed: JobEvent[] = []
    for (let i = 0, event = history.ring.at(i); event !== undefined; event = history.ring.at(++i)) {
      if (seqOf(event.cursor) > seq) missed.push(event)
    }
    return missed
  }

  async since (owner: string, cursor: string): Promise<JobEvent[] | undefined> {
    return this.sinceNow(owner, cursor)
  }

  /** Synchronous {@link head}. */
  headNow (owner: string): string {
    return `${this.epoch}-${this.#history(owner).seq}`
  }

  async head (owner: string): Promise<string> {
    return this.headNow(owner)
  }

  async requestCancel (jobId: string): Promise<void> {
    this.#deliver(this.#cancelListeners, jobId, 'cancel listener failed')
  }

  onCancelRequest (listener: (jobId: string) => void): Unsubscribe {
    this.#cancelListeners.add(listener)
    return () => { this.#cancelListeners.delete(listener) }
  }

  /** Events kept for the owner's replay. */
  retained (owner: string): number {
    return this.#histories.get(owner)?.ring.size ?? 0
  }

  /**
   * Drops the kept events of owners quiet for the idle time. Their sequence number stays (a number per owner), so
   * that a cursor from just before their next event still replays it.
   */
  sweep (now = Date.now()): void {
    for (const history of this.#histories.values()) {
      if (history.ring.size === 0 || now - history.lastActive < this.#idleMs) continue
      history.ring = new Fifo()
      history.floor = history.seq
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#listeners.clear()
    this.#cancelListeners.clear()
  }

  // A listener that throws is reported and skipped: it never stops the publisher or the other listeners.
  #deliver<T> (listeners: Set<(value: T) => void>, value: T, what: string): void {
    for (const listener of listeners) {
      try {
        listener(value)
      } catch (err) {
        this.#log?.error({ err }, what)
      }
    }
  }

  #history (owner: string): History {
    let history = this.#histories.get(owner)
    if (history === undefined) {
      history = { ring: new Fifo(), seq: 0, floor: 0, lastActive: Date.now() }
      this.#histories.set(owner, history)
    }
    return history
  }
}

function seqOf (cursor: string): number {
  return Number(cursor.slice(cursor.lastIndexOf('-') + 1))
}
