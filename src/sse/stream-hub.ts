import type { JobEventKind } from '../core/event-bus.ts'
import { Fifo } from '../lib/fifo.ts'
import { formatCursor, parseCursor } from './cursor.ts'
import { sseFrame } from './frame.ts'

/** An event as the hub keeps it: its cursor, what it is about, and its wire frame (built once for all clients). */
export interface StreamEvent {
  readonly seq: number
  readonly id: string
  readonly kind: JobEventKind
  readonly jobId: string
  readonly batchId: string | null
  readonly terminal: boolean
  readonly frame: string
}

/** One open stream of one user. */
export interface StreamClient {
  readonly user: string
  /** Whether this stream carries the event (all of the user's, or one job's, or one batch's). */
  wants: (event: StreamEvent) => boolean
  /** Writes a frame; false when the client cannot keep up and should be dropped. */
  write: (frame: string) => boolean
  /** Ends the stream. */
  close: () => void
  /** Whether the stream ends after this event (a one-job stream after the job's terminal event). */
  endsAfter?: (event: StreamEvent) => boolean
}

/** Settings of the hub. */
export interface StreamHubOptions {
  /** Events kept per user for resume. */
  bufferSize: number
  /** A channel with no client and no event for this long is dropped (its cursors then get a snapshot). */
  idleMs?: number
  /** Distinguishes this process's cursors from those of an earlier run. */
  epoch?: string
}

// One user's stream state: recent events for replay, and the open clients.
interface Channel {
  ring: Fifo<StreamEvent>
  /** Events with seq <= floor are not in the ring any more (or came before the channel existed). */
  floor: number
  clients: Set<StreamClient>
  lastActive: number
}

const TERMINAL: ReadonlySet<JobEventKind> = new Set(['completed', 'failed', 'canceled'])

// The frame is built on first use: the events of a user with no open stream are mostly never sent, nor serialized.
class HubEvent implements StreamEvent {
  readonly terminal: boolean
  #data: string | (() => string)
  #frame: string | undefined

  constructor (readonly seq: number, readonly id: string, readonly kind: JobEventKind, readonly jobId: string, readonly batchId: string | null, data: string | (() => string)) {
    this.terminal = TERMINAL.has(kind)
    this.#data = data
  }

  get frame (): string {
    if (this.#frame === undefined) {
      this.#frame = sseFrame(this.kind, this.id, typeof this.#data === 'string' ? this.#data : this.#data())
      this.#data = ''
    }
    return this.#frame
  }
}

/**
 * Per-user fan-out of job events to SSE clients, with a bounded replay buffer per user. Sequence numbers are
 * global and increasing, so a cursor is valid for exactly one user's channel and never points into a newer one.
 */
export class StreamHub {
  readonly epoch: string
  readonly #bufferSize: number
  readonly #idleMs: number
  readonly #channels = new Map<string, Channel>()
  #seq = 0
  #clients = 0

  constructor (options: StreamHubOptions) {
    this.#bufferSize = options.bufferSize
    this.#idleMs = options.idleMs ?? 10 * 60_000
    this.epoch = options.epoch ?? Date.now().toString(36)
  }

  /** Open streams, all users together. */
  get clientCount (): number {
    return this.#clients
  }

  /** Users with a channel (for tests and metrics). */
  get channelCount (): number {
    return this.#channels.size
  }

  /** The cursor of "now" for `user`: resuming from it replays every later event. */
  cursor (user: string): string {
    this.#channel(user)
    return formatCursor({ epoch: this.epoch, seq: this.#seq })
  }

  /** Records an event for its owner and writes it to every client of theirs that wants it; `data` is JSON, or makes it. */
  publish (user: string, kind: JobEventKind, jobId: string, batchId: string | null, data: string | (() => string)): StreamEvent {
    // The channel first: one created now starts before this event (its floor is the previous seq), so it keeps it.
    const channel = this.#channel(user)
    const seq = ++this.#seq
    const event = new HubEvent(seq, formatCursor({ epoch: this.epoch, seq }), kind, jobId, batchId, data)
    channel.lastActive = Date.now()
    channel.ring.push(event)
    while (channel.ring.size > this.#bufferSize) channel.floor = channel.ring.shift()!.seq
    for (const client of channel.clients) {
      if (!client.wants(event)) continue
      // A client that cannot keep up is dropped; it resumes from its last event id when it reconnects.
      if (!client.write(event.frame) || client.endsAfter?.(event) === true) this.detach(client)
    }
    return event
  }

  /** Events of `user` after `lastEventId`; undefined when they cannot all be replayed (too old, or another run). */
  since (user: string, lastEventId: string): StreamEvent[] | undefined {
    const cursor = parseCursor(lastEventId)
    const channel = this.#channels.get(user)
    if (cursor === undefined || channel === undefined || cursor.epoch !== this.epoch) return undefined
    if (cursor.seq < channel.floor || cursor.seq > this.#seq) return undefined
    const missed: StreamEvent[] = []
    // The ring is small and ordered; a scan is simpler than a search and fast enough.
    for (let i = 0, event = channel.ring.at(i); event !== undefined; event = channel.ring.at(++i)) {
      if (event.seq > cursor.seq) missed.push(event)
    }
    return missed
  }

  /** Adds a client to its user's channel. */
  attach (client: StreamClient): void {
    const channel = this.#channel(client.user)
    if (channel.clients.has(client)) return
    channel.clients.add(client)
    this.#clients++
  }

  /** Removes a client (closing it); safe to call twice. */
  detach (client: StreamClient): void {
    const channel = this.#channels.get(client.user)
    if (channel?.clients.delete(client) !== true) return
    this.#clients--
    channel.lastActive = Date.now()
    client.close()
  }

  /** Closes every stream (shutdown). */
  closeAll (): void {
    for (const channel of this.#channels.values()) {
      for (const client of channel.clients) this.detach(client)
    }
  }

  /** Drops channels with no client that have been quiet for the idle time. */
  sweep (now = Date.now()): void {
    for (const [user, channel] of this.#channels) {
      if (channel.clients.size === 0 && now - channel.lastActive >= this.#idleMs) this.#channels.delete(user)
    }
  }

  #channel (user: string): Channel {
    let channel = this.#channels.get(user)
    if (channel === undefined) {
      channel = { ring: new Fifo(), floor: this.#seq, clients: new Set(), lastActive: Date.now() }
      this.#channels.set(user, channel)
    }
    return channel
  }
}
