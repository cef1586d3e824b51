// One Server-Sent Events connection, over EventSource where it exists and can be used, else over a fetch stream
// (Node 20 has fetch but no EventSource; a bearer token needs a header, which EventSource cannot send).

/** One dispatched event. */
export interface SseMessage {
  id: string | undefined
  event: string
  data: string
}

/** What a connection reports. `onEnd` comes once, when the stream fails or ends by itself (never after `close`). */
export interface StreamHandlers {
  onOpen: () => void
  onMessage: (message: SseMessage) => void
  onRetryHint: (ms: number) => void
  onEnd: (reason: { status?: number, error?: unknown }) => void
}

/** How to connect. */
export interface StreamOptions {
  url: string
  /** Extra headers (a bearer token); given any, the fetch path is used. */
  headers: Record<string, string>
  /** Event names to listen for (EventSource delivers only the names it was told). */
  events: readonly string[]
  fetch: typeof fetch
  credentials: 'omit' | 'same-origin' | 'include'
  /** Use the fetch path even where EventSource exists. */
  forceFetch: boolean
}

/** An open connection. */
export interface StreamHandle {
  /** Closes it; no handler is called after. */
  close: () => void
}

/** Opens one stream; reconnection is the caller's, so that it always resumes from the cursor it chooses. */
export function openStream (options: StreamOptions, handlers: StreamHandlers): StreamHandle {
  const canUseEventSource = typeof EventSource === 'function' && !options.forceFetch && Object.keys(options.headers).length === 0
  return canUseEventSource ? overEventSource(options, handlers) : overFetch(options, handlers)
}

function overEventSource (options: StreamOptions, handlers: StreamHandlers): StreamHandle {
  const source = new EventSource(options.url, { withCredentials: options.credentials === 'include' })
  let done = false
  const finish = (): void => {
    if (done) return
    done = true
    source.close()
  }
  source.addEventListener('open', () => { if (!done) handlers.onOpen() })
  for (const name of options.events) {
    source.addEventListener(name, (e) => {
      const message = e as MessageEvent
      if (!done) handlers.onMessage({ id: message.lastEventId === '' ? undefined : message.lastEventId, event: name, data: String(message.data) })
    })
  }
  // EventSource would reconnect by itself with the last id it saw, which can be older than a poll since: stop it.
  source.addEventListener('error', () => {
    if (done) return
    finish()
    handlers.onEnd({})
  })
  return { close: finish }
}

function overFetch (options: StreamOptions, handlers: StreamHandlers): StreamHandle {
  const abort = new AbortController()
  let done = false
  const end = (reason: { status?: number, error?: unknown }): void => {
    if (done) return
    done = true
    handlers.onEnd(reason)
  }
  void (async () => {
    const res = await options.fetch(options.url, {
      headers: { accept: 'text/event-stream', ...options.headers },
      credentials: options.credentials,
      signal: abort.signal
    })
    if (res.status !== 200 || res.body === null) {
      await res.body?.cancel()
      end({ status: res.status })
      return
    }
    if (done) return
    handlers.onOpen()
    const parser = new SseParser((item) => {
      if (done) return
      if ('ms' in item) handlers.onRetryHint(item.ms)
      else handlers.onMessage(item)
    })
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    for (;;) {
      const { value, done: ended } = await reader.read()
      if (ended) break
      parser.push(value)
    }
    end({})
  })().catch((error: unknown) => { end({ error }) })
  return {
    close: () => {
      done = true
      abort.abort()
    }
  }
}

/** An incremental parser of the SSE wire format: feed chunks in any cut; it calls back per event and retry hint. */
export class SseParser {
  #buffer = ''
  #id: string | undefined
  #event = ''
  #data: string[] = []
  readonly #emit: (item: SseMessage | { ms: number }) => void

  constructor (emit: (item: SseMessage | { ms: number }) => void) {
    this.#emit = emit
  }

  /** Parses the complete lines of `chunk` (with what was left of the last one). */
  push (chunk: string): void {
    let text = this.#buffer + chunk
    // A CR at the end may be the first half of a CRLF: it waits for the next chunk.
    const held = text.endsWith('\r') ? '\r' : ''
    if (held !== '') text = text.slice(0, -1)
    const lines = text.split(/\r\n|\r|\n/)
    this.#buffer = lines.pop()! + held
    for (const line of lines) this.#line(line)
  }

  #line (line: string): void {
    if (line === '') {
      if (this.#data.length > 0) this.#emit({ id: this.#id, event: this.#event === '' ? 'message' : this.#event, data: this.#data.join('\n') })
      this.#id = undefined
      this.#event = ''
      this.#data = []
      return
    }
    if (line.startsWith(':')) return
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.#data.push(value)
    else if (field === 'event') this.#event = value
    else if (field === 'id') this.#id = value
    else if (field === 'retry' && /^\d+$/.test(value)) this.#emit({ ms: Number(value) })
  }
}
