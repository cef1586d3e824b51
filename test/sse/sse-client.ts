import { request as httpRequest, type IncomingHttpHeaders, type ClientRequest } from 'node:http'

/** One dispatched SSE event: its own `id:` (if the frame had one), its name and its data. */
export interface SseEvent {
  id: string | undefined
  event: string
  data: string
}

/** Everything read from a stream, in order: events, `retry:` hints and comment lines. */
export type SseItem =
  | { type: 'event', event: SseEvent }
  | { type: 'retry', ms: number }
  | { type: 'comment', text: string }

/**
 * An incremental parser of the SSE wire format (WHATWG "event stream interpretation"): feed it chunks as
 * they arrive, in any cut; it calls `onItem` for each event, retry hint and comment line.
 */
export class SseParser {
  #buffer = ''
  #pendingCr = false
  #id: string | undefined
  #event = ''
  #data: string[] = []
  readonly #onItem: (item: SseItem) => void

  constructor (onItem: (item: SseItem) => void) {
    this.#onItem = onItem
  }

  /** Parses what `chunk` completes; a partial last line waits for the next chunk. */
  push (chunk: string): void {
    let text = this.#buffer + chunk
    // A CR ending the previous chunk and an LF starting this one are one line break.
    if (this.#pendingCr && text.startsWith('\n')) text = text.slice(1)
    this.#pendingCr = false
    let start = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      this.#line(text.slice(start, i))
      if (c === 13) {
        if (i + 1 === text.length) this.#pendingCr = true
        else if (text.charCodeAt(i + 1) === 10) i++
      }
      start = i + 1
    }
    this.#buffer = text.slice(start)
  }

  #line (line: string): void {
    if (line === '') {
      if (this.#data.length > 0) {
        this.#onItem({ type: 'event', event: { id: this.#id, event: this.#event === '' ? 'message' : this.#event, data: this.#data.join('\n') } })
      }
      this.#id = undefined
      this.#event = ''
      this.#data = []
      return
    }
    if (line.startsWith(':')) {
      this.#onItem({ type: 'comment', text: line.slice(1).trimStart() })
      return
    }
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.#data.push(value)
    else if (field === 'event') this.#event = value
    else if (field === 'id' && !value.includes('\0')) this.#id = value
    else if (field === 'retry' && /^\d+$/.test(value)) this.#onItem({ type: 'retry', ms: Number(value) })
  }
}

/** Options of {@link openSse}. */
export interface OpenSseOptions {
  headers?: Record<string, string>
}

/** An open SSE response being read. */
export interface SseClient {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  /** Everything read so far, in order. */
  readonly items: SseItem[]
  /** The events read so far, in order. */
  readonly events: SseEvent[]
  /** The id of the last event that had one (what EventSource would send as Last-Event-ID). */
  readonly lastEventId: string | undefined
  /** Resolves when the server ends the stream (or the connection drops); never rejects. */
  readonly ended: Promise<void>
  /** Whether the stream has ended. */
  readonly isEnded: boolean
  /**
   * The next not yet consumed event for which `predicate` holds; events before it are consumed too.
   * Rejects when the stream ends first.
   */
  next: (predicate?: (event: SseEvent) => boolean) => Promise<SseEvent>
  /** The next not yet consumed comment line for which `predicate` holds. Rejects when the stream ends first. */
  nextComment: (predicate?: (text: string) => boolean) => Promise<string>
  /** Disconnects (as a client going away does); resolves once the socket is closed. */
  close: () => Promise<void>
}

/** The body of a response that was not a stream, for tests of error answers. */
export interface PlainResponse {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

interface Waiter {
  kind: 'event' | 'comment'
  test: (item: SseItem) => boolean
  resolve: (item: SseItem) => void
  reject: (error: Error) => void
}

/**
 * Opens `url` as an SSE stream with node:http, one connection of its own (no agent, so no keep-alive socket
 * outlives the stream). Resolves once the response head arrives.
 */
export async function openSse (url: string, options: OpenSseOptions = {}): Promise<SseClient> {
  const { req, res } = await send(url, options)
  res.setEncoding('utf8')
  const items: SseItem[] = []
  const events: SseEvent[] = []
  let eventCursor = 0 // index in `items` after the last consumed event
  let commentCursor = 0 // index in `items` after the last consumed comment
  let lastEventId: string | undefined
  let isEnded = false
  let waiters: Waiter[] = []

  // Serves waiters in order from the unconsumed items; events and comments are consumed independently.
  const serve = (): void => {
    while (waiters.length > 0) {
      const waiter = waiters[0]!
      const from = waiter.kind === 'event' ? eventCursor : commentCursor
      let found = -1
      for (let i = from; i < items.length; i++) {
        if (items[i]!.type === waiter.kind && waiter.test(items[i]!)) { found = i; break }
      }
      if (found === -1) break
      if (waiter.kind === 'event') eventCursor = found + 1
      else commentCursor = found + 1
      waiters.shift()
      waiter.resolve(items[found]!)
    }
    if (isEnded && waiters.length > 0) {
      const left = waiters
      waiters = []
      for (const waiter of left) waiter.reject(new Error(`the stream ended before the awaited ${waiter.kind} (read ${events.length} events: ${events.map((e) => e.event).join(', ')})`))
    }
  }

  const parser = new SseParser((item) => {
    items.push(item)
    if (item.type === 'event') {
      events.push(item.event)
      if (item.event.id !== undefined) lastEventId = item.event.id
    }
  })
  res.on('data', (chunk: string) => {
    parser.push(chunk)
    serve()
  })
  const ended = new Promise<void>((resolve) => {
    const end = (): void => {
      if (isEnded) return
      isEnded = true
      serve()
      resolve()
    }
    res.on('end', end)
    res.on('close', end)
    res.on('error', end)
    req.on('error', end)
  })
  const socketClosed = new Promise<void>((resolve) => {
    if (req.socket?.destroyed === true) resolve()
    else req.socket?.once('close', () => { resolve() })
  })

  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    items,
    events,
    get lastEventId () { return lastEventId },
    ended,
    get isEnded () { return isEnded },
    async next (predicate = () => true) {
      return await new Promise<SseEvent>((resolve, reject) => {
        waiters.push({
          kind: 'event',
          test: (item) => item.type === 'event' && predicate(item.event),
          resolve: (item) => { resolve((item as { event: SseEvent }).event) },
          reject
        })
        serve()
      })
    },
    async nextComment (predicate = () => true) {
      return await new Promise<string>((resolve, reject) => {
        waiters.push({
          kind: 'comment',
          test: (item) => item.type === 'comment' && predicate(item.text),
          resolve: (item) => { resolve((item as { text: string }).text) },
          reject
        })
        serve()
      })
    },
    async close () {
      req.destroy()
      await socketClosed
      await ended
    }
  }
}

/** Sends a GET and reads the whole answer (for the answers that are not streams: 204, 401, 404). */
export async function getPlain (url: string, options: OpenSseOptions = {}): Promise<PlainResponse> {
  const { res } = await send(url, options)
  res.setEncoding('utf8')
  let body = ''
  for await (const chunk of res) body += chunk as string
  return { status: res.statusCode ?? 0, headers: res.headers, body }
}

async function send (url: string, options: OpenSseOptions): Promise<{ req: ClientRequest, res: import('node:http').IncomingMessage }> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: { accept: 'text/event-stream', ...options.headers } })
    req.once('response', (res) => { resolve({ req, res }) })
    req.once('error', reject)
    req.end()
  })
}

/** Parses an event's JSON data. */
export function dataOf<T = unknown> (event: SseEvent): T {
  return JSON.parse(event.data) as T
}
