import { openStream, type SseMessage, type StreamHandle } from './sse.ts'
import type { BatchView, ConnectionState, FeedEvent, JobEventKind, JobView } from './types.ts'

const JOB_EVENTS: readonly JobEventKind[] = ['queued', 'started', 'progress', 'retrying', 'completed', 'failed', 'canceled']
const STREAM_EVENTS: readonly string[] = ['snapshot', ...JOB_EVENTS, 'batch']

/** How a feed reaches the server. */
export interface FeedOptions {
  /** Absolute URL of a path under jobcast's mount point. */
  url: (path: string) => string
  /** A request with the client's auth. */
  request: (path: string, init?: { signal?: AbortSignal }) => Promise<Response>
  /** Headers of the stream request (a bearer token); none means cookies, and EventSource where there is one. */
  streamHeaders: Record<string, string>
  fetch: typeof fetch
  credentials: 'omit' | 'same-origin' | 'include'
  forceFetch: boolean
  /** Time between two polls of api/progress while the stream is down. */
  pollIntervalMs: number
  /** Least and most time before a reconnect (the server's `retry:` hint raises the least; failures double it). */
  reconnectMinMs: number
  reconnectMaxMs: number
}

/** A subscriber: events, and the connection's changes. */
export interface FeedListener {
  onEvent: (event: FeedEvent) => void
  onConnection?: ((state: ConnectionState) => void) | undefined
}

// `<epoch>-<seq>`: a cursor is newer if it is of another run (the server restarted) or further on in the same one.
const newer = (a: string, b: string | undefined): boolean => {
  if (b === undefined) return true
  const [ea, sa] = a.split('-')
  const [eb, sb] = b.split('-')
  return ea !== eb || Number(sa) > Number(sb)
}

/**
 * One live view of everything of the signed-in user: one stream on api/events, resumed from the last cursor after a
 * break, with api/progress polled while it is down. Events older than what is already known are dropped, so
 * subscribers see no update twice and never an older state after a newer one.
 */
export class LiveFeed {
  /** Jobs and batches as last heard of. */
  readonly jobs = new Map<string, JobView>()
  readonly batches = new Map<string, BatchView>()
  #cursor: string | undefined
  #state: ConnectionState = 'closed'
  readonly #listeners = new Set<FeedListener>()
  readonly #o: FeedOptions
  #stream: StreamHandle | undefined
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined
  #pollTimer: ReturnType<typeof setTimeout> | undefined
  // The poll out now: aborted when the feed stops, so that none reaches the server after a sign-out (a 401 there
  // would be an error in the browser's console).
  #pollAbort: AbortController | undefined
  // Bumped whenever the stream opens or the feed stops: a poll answering after that is stale and ignored.
  #generation = 0
  #failures = 0
  #hintMs = 0

  constructor (options: FeedOptions) {
    this.#o = options
  }

  /** The cursor of the latest event or poll applied. */
  get cursor (): string | undefined { return this.#cursor }

  /** How updates arrive now. */
  get state (): ConnectionState { return this.#state }

  /** Adds a listener (the first one opens the stream); a late one gets a snapshot of what is known. Returns its removal. */
  subscribe (listener: FeedListener): () => void {
    this.#listeners.add(listener)
    listener.onConnection?.(this.#state === 'closed' ? 'connecting' : this.#state)
    if (this.#listeners.size === 1) this.#start()
    else if (this.#cursor !== undefined) {
      listener.onEvent({ kind: 'snapshot', cursor: this.#cursor, jobs: [...this.jobs.values()], batches: [...this.batches.values()], source: 'stream' })
    }
    return () => {
      if (this.#listeners.delete(listener) && this.#listeners.size === 0) this.stop()
    }
  }

  /** Closes the stream and stops polling; a later subscriber starts it again from the last cursor. */
  stop (): void {
    this.#generation++
    this.#stream?.close()
    this.#stream = undefined
    clearTimeout(this.#reconnectTimer)
    clearTimeout(this.#pollTimer)
    this.#pollAbort?.abort()
    this.#setState('closed')
  }

  #start (): void {
    this.#setState('connecting')
    this.#connect()
  }

  #connect (): void {
    this.#reconnectTimer = undefined
    const query = this.#cursor === undefined ? '' : `?lastEventId=${encodeURIComponent(this.#cursor)}`
    this.#stream = openStream({
      url: this.#o.url(`api/events${query}`),
      headers: this.#o.streamHeaders,
      events: STREAM_EVENTS,
      fetch: this.#o.fetch,
      credentials: this.#o.credentials,
      forceFetch: this.#o.forceFetch
    }, {
      onOpen: () => {
        this.#generation++
        this.#failures = 0
        clearTimeout(this.#pollTimer)
        this.#setState('live')
      },
      onMessage: (message) => { this.#onMessage(message) },
      onRetryHint: (ms) => { this.#hintMs = ms },
      onEnd: () => {
        this.#stream = undefined
        this.#failures++
        if (this.#state !== 'polling') {
          this.#setState('polling')
          this.#poll(this.#generation)
        }
        const base = Math.max(this.#o.reconnectMinMs, this.#hintMs)
        const delay = Math.min(this.#o.reconnectMaxMs, base * 2 ** Math.min(this.#failures - 1, 10))
        this.#reconnectTimer = setTimeout(() => { this.#connect() }, delay * (0.8 + Math.random() * 0.4))
      }
    })
  }

  #onMessage (message: SseMessage): void {
    if (message.id === undefined || !newer(message.id, this.#cursor)) return
    let data: unknown
    try {
      data = JSON.parse(message.data)
    } catch {
      return
    }
    this.#cursor = message.id
    if (message.event === 'snapshot') {
      const snapshot = data as { jobs?: JobView[], batches?: BatchView[] }
      this.#applySnapshot(message.id, snapshot.jobs ?? [], snapshot.batches ?? [], 'stream')
    } else if (message.event === 'batch') {
      const batch = data as BatchView
      this.batches.set(batch.id, batch)
      this.#emit({ kind: 'batch', cursor: message.id, batch })
    } else if ((JOB_EVENTS as readonly string[]).includes(message.event)) {
      const job = data as JobView
      this.jobs.set(job.id, job)
      this.#emit({ kind: message.event as JobEventKind, cursor: message.id, job })
    }
  }

  #applySnapshot (cursor: string, jobs: JobView[], batches: BatchView[], source: 'stream' | 'poll'): void {
    for (const job of jobs) this.jobs.set(job.id, job)
    for (const batch of batches) this.batches.set(batch.id, batch)
    this.#emit({ kind: 'snapshot', cursor, jobs, batches, source })
  }

  #poll (generation: number): void {
    const abort = new AbortController()
    this.#pollAbort = abort
    void this.#o.request('api/progress', { signal: abort.signal }).then(async (res) => {
      if (generation !== this.#generation) return
      if (res.status === 401) {
        this.stop()
        return
      }
      if (!res.ok) return
      const body = await res.json() as { cursor: string, jobs: JobView[], batches?: BatchView[] }
      // The stream may have opened while this poll was out: its events are newer than this answer.
      if (generation !== this.#generation || !newer(body.cursor, this.#cursor)) return
      this.#cursor = body.cursor
      this.#applySnapshot(body.cursor, body.jobs, body.batches ?? [], 'poll')
    }).catch(() => { /* the next poll tries again */ }).finally(() => {
      if (generation === this.#generation && this.#state === 'polling') {
        this.#pollTimer = setTimeout(() => { this.#poll(generation) }, this.#o.pollIntervalMs)
      }
    })
  }

  #emit (event: FeedEvent): void {
    for (const listener of this.#listeners) listener.onEvent(event)
  }

  #setState (state: ConnectionState): void {
    if (state === this.#state) return
    this.#state = state
    for (const listener of this.#listeners) listener.onConnection?.(state)
  }
}
