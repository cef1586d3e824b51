import type { Logger } from 'pino'
import { TERMINAL_EVENTS } from '../core/model.ts'
import { isCursorAfter, type JobEvent, type JobEvents, type Unsubscribe } from '../ports/job-events.ts'
import { sseFrame } from './frame.ts'

/** One open stream of one user. */
export interface StreamClient {
  readonly user: string
  /** Whether this stream carries the event (all of the user's, or one job's, or one batch's). */
  wants: (event: JobEvent) => boolean
  /** Writes a frame; false when the client cannot keep up and must be dropped. */
  write: (frame: string) => boolean
  /** Ends the stream. */
  close: () => void
  /** Whether the stream ends after this event (a one-job stream after the job's terminal event). */
  endsAfter?: (event: JobEvent) => boolean
}

// A client, the events that arrived while its first frames (snapshot or replay) were being read, and the cursor of
// the last event it has (what it resumed from, then each event written): nothing at or before it is sent again.
interface Attached {
  client: StreamClient
  held: JobEvent[] | undefined
  last: string | undefined
}

const frames = new WeakMap<JobEvent, string>()

/** The SSE frame of an event, built once whatever the number of clients. */
export function eventFrame (event: JobEvent): string {
  let frame = frames.get(event)
  if (frame === undefined) {
    frame = sseFrame(event.kind, event.cursor, event.data)
    frames.set(event, frame)
  }
  return frame
}

/** Whether an event ends its job's story. */
export function isTerminal (event: JobEvent): boolean {
  return TERMINAL_EVENTS.has(event.kind)
}

/**
 * This node's SSE clients, per user, fed from {@link JobEvents}. A client is attached before its first frames are
 * read, holding the events that arrive meanwhile, so that nothing falls between the replay and the live stream.
 */
export class StreamHub {
  readonly #users = new Map<string, Map<StreamClient, Attached>>()
  readonly #unsubscribe: Unsubscribe
  readonly #log: Pick<Logger, 'warn'>
  #clients = 0

  constructor (events: JobEvents, log: Pick<Logger, 'warn'>) {
    this.#log = log
    this.#unsubscribe = events.subscribe((event) => { this.#publish(event) })
  }

  /** Open streams, all users together. */
  get clientCount (): number {
    return this.#clients
  }

  /** Open streams of one user. */
  clientsOf (user: string): number {
    return this.#users.get(user)?.size ?? 0
  }

  /** Adds a client that holds its events until {@link release}. */
  attach (client: StreamClient): void {
    let clients = this.#users.get(client.user)
    if (clients === undefined) {
      clients = new Map()
      this.#users.set(client.user, clients)
    }
    if (clients.has(client)) return
    clients.set(client, { client, held: [], last: undefined })
    this.#clients++
  }

  /**
   * Writes the client's first events (a replay, or the events after its snapshot, both after the cursor `from`),
   * then what arrived meanwhile that is later still, and from then on writes live. An event this node hears late (its
   * fan-out behind the node the client came from) is never sent twice. False when the client was dropped or its
   * stream ended.
   */
  release (client: StreamClient, first: JobEvent[], from?: string): boolean {
    const attached = this.#users.get(client.user)?.get(client)
    if (attached === undefined) return false
    const held = attached.held ?? []
    attached.held = undefined
    attached.last = from
    for (const event of [...first, ...held]) {
      if (!this.#deliver(attached, event)) return false
    }
    return true
  }

  /** Writes a frame that is not an event (a snapshot) through the slow-client check; false when the client was dropped. */
  writeFrame (client: StreamClient, frame: string): boolean {
    if (client.write(frame)) return true
    this.#drop(client)
    return false
  }

  /** Removes a client (closing it); safe to call twice. */
  detach (client: StreamClient): void {
    const clients = this.#users.get(client.user)
    if (clients?.delete(client) !== true) return
    this.#clients--
    if (clients.size === 0) this.#users.delete(client.user)
    client.close()
  }

  /** Closes every stream; clients reconnect with their cursors. */
  dropAll (): void {
    for (const clients of [...this.#users.values()]) {
      for (const client of [...clients.keys()]) this.detach(client)
    }
  }

  /** Closes every stream and stops listening (shutdown). */
  closeAll (): void {
    this.#unsubscribe()
    this.dropAll()
  }

  #publish (event: JobEvent): void {
    const clients = this.#users.get(event.owner)
    if (clients === undefined) return
    for (const attached of [...clients.values()]) {
      if (attached.held !== undefined) attached.held.push(event)
      else this.#deliver(attached, event)
    }
  }

  // Writes one event if the client wants it and does not have it yet; false when the client was dropped or its
  // stream ended with it.
  #deliver (attached: Attached, event: JobEvent): boolean {
    const { client } = attached
    if (attached.last !== undefined && !isCursorAfter(event.cursor, attached.last)) return true
    attached.last = event.cursor
    if (!client.wants(event)) return true
    if (!client.write(eventFrame(event))) {
      this.#drop(client)
      return false
    }
    if (client.endsAfter?.(event) === true) {
      this.detach(client)
      return false
    }
    return true
  }

  // A client that cannot keep up is dropped; it resumes from its last event id when it reconnects.
  #drop (client: StreamClient): void {
    this.#log.warn({ user: client.user }, 'dropped an SSE client that did not keep up; it resumes from its cursor')
    this.detach(client)
  }
}
