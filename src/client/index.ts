// jobcast/client: start, cancel and watch jobs from a browser or Node 20, with no dependency.
import { LiveFeed } from './live-feed.ts'
import type { BatchView, ConnectionState, ErrorBody, FeedEvent, JobState, JobType, JobView } from './types.ts'

export type { Artifact, BatchView, ConnectionState, ErrorBody, FeedEvent, JobEventKind, JobState, JobType, JobView, Progress } from './types.ts'
export { SseParser } from './sse.ts'

/** Settings of a client. */
export interface ClientOptions {
  /** Where jobcast is mounted (`http://localhost:3000/`, `https://app.example/jobs/`); default: the page's folder. */
  baseUrl?: string | URL
  /** A bearer token; without one, the session cookie is used (sign in with `signIn`). */
  token?: string
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch
  /** Time between two polls of api/progress while the stream is down, in ms (default 1000). */
  pollIntervalMs?: number
  /** Least time before reconnecting the stream, in ms (default 1000; the server's `retry:` hint raises it). */
  reconnectMinMs?: number
  /** Most time before reconnecting the stream, in ms (default 10000). */
  reconnectMaxMs?: number
  /** `fetch` reads the stream over fetch even where EventSource exists (default `auto`: EventSource when usable). */
  transport?: 'auto' | 'fetch'
}

/** A 4xx/5xx answer: `status`, and the server's stable `code`. */
export class JobcastRequestError extends Error {
  readonly status: number
  readonly code: string
  constructor (status: number, body: Partial<ErrorBody>) {
    super(body.message ?? `HTTP ${status}`)
    this.name = 'JobcastRequestError'
    this.status = status
    this.code = body.code ?? `HTTP_${status}`
  }
}

/** A running subscription. */
export interface Watch {
  /** Stops delivering; safe to call twice. */
  close: () => void
}

/** A watch of one job: `done` resolves with the job once it is finished (and the watch then closes). */
export interface JobWatch extends Watch {
  done: Promise<JobView>
}

/** Options of a watch. */
export interface WatchOptions {
  /** Hears `connecting`, `live`, `polling` (the stream is down and api/progress is polled) and `closed`. */
  onConnection?: (state: ConnectionState) => void
}

/** A page of GET api/jobs. */
export interface JobPage {
  items: JobView[]
  nextCursor: string | null
}

/** A file to upload with a start: a browser File, or a Blob with a name. */
export type UploadFile = Blob & { name?: string }

const FINISHED: ReadonlySet<JobState> = new Set(['completed', 'failed', 'canceled'])

/** Whether a job is finished (completed, failed or canceled). */
export const isFinished = (job: Pick<JobView, 'state'>): boolean => FINISHED.has(job.state)

/** The client of one jobcast server. */
export class JobcastClient {
  /** The mount point every path is resolved against; it ends with `/`. */
  readonly baseUrl: string
  readonly #fetch: typeof fetch
  readonly #auth: Record<string, string>
  readonly #feed: LiveFeed

  constructor (options: ClientOptions = {}) {
    // In a browser the default mount point is the page's folder; Node has no `location`.
    const page = (globalThis as { location?: { href: string } }).location?.href
    const base = new URL(options.baseUrl ?? '.', page)
    if (!base.pathname.endsWith('/')) base.pathname += '/'
    this.baseUrl = base.href
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis)
    this.#auth = options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }
    this.#feed = new LiveFeed({
      url: (path) => this.url(path),
      request: async (path, init) => await this.#request(path, init),
      streamHeaders: this.#auth,
      fetch: this.#fetch,
      credentials: 'same-origin',
      forceFetch: options.transport === 'fetch',
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      reconnectMinMs: options.reconnectMinMs ?? 1000,
      reconnectMaxMs: options.reconnectMaxMs ?? 10_000
    })
  }

  /** The absolute URL of a path under the mount point (`api/jobs` → `<baseUrl>api/jobs`). */
  url (path: string): string {
    return new URL(path.replace(/^\/+/, ''), this.baseUrl).href
  }

  /** How the live feed gets its updates now. */
  get connection (): ConnectionState { return this.#feed.state }

  /** Trades a token for the HttpOnly session cookie (browsers). */
  async signIn (token: string): Promise<{ user: string }> {
    return await this.#json('api/session', { method: 'POST', body: JSON.stringify({ token }), headers: { 'content-type': 'application/json' } })
  }

  /** Ends the session and closes the live feed. */
  async signOut (): Promise<void> {
    this.#feed.stop()
    await this.#json('api/session', { method: 'DELETE' })
  }

  /** The job types that can be started, with their input schemas and upload limits. */
  async jobTypes (): Promise<JobType[]> {
    return await this.#json('api/job-types')
  }

  /** Starts a job: JSON, or multipart when `files` are given. Resolves with the queued job (the 202). */
  async startJob (type: string, input: unknown = {}, files: UploadFile[] = [], options: { idempotencyKey?: string } = {}): Promise<JobView> {
    const headers: Record<string, string> = options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey }
    let body: string | FormData
    if (files.length === 0) {
      body = JSON.stringify(input ?? {})
      headers['content-type'] = 'application/json'
    } else {
      const form = new FormData()
      form.append('input', JSON.stringify(input ?? {}))
      files.forEach((file, i) => { form.append('file', file, file.name ?? `file-${i + 1}`) })
      body = form
    }
    return await this.#json(`api/jobs/${encodeURIComponent(type)}`, { method: 'POST', body, headers })
  }

  /** Asks for a job's cancel; resolves with the job (canceled, or still running until its handler stops). */
  async cancelJob (id: string): Promise<JobView> {
    return await this.#json(`api/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' })
  }

  /** One job. */
  async getJob (id: string): Promise<JobView> {
    return await this.#json(`api/jobs/${encodeURIComponent(id)}`)
  }

  /** A page of my jobs, newest first; pass `nextCursor` as `cursor` for the next page. */
  async listJobs (query: { state?: JobState, type?: string, batch?: string, limit?: number, cursor?: string } = {}): Promise<JobPage> {
    const params = new URLSearchParams()
    for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value))
    const search = params.size === 0 ? '' : `?${params.toString()}`
    return await this.#json(`api/jobs${search}`)
  }

  /** My batches; undefined when the server has no batches API. */
  async listBatches (): Promise<BatchView[] | undefined> {
    const res = await this.#request('api/batches')
    if (res.status === 404 || res.status === 405) return undefined
    const body = await this.#read<{ items?: BatchView[] } | BatchView[]>(res)
    return Array.isArray(body) ? body : body.items ?? []
  }

  /** Cancels every unfinished job of a batch. */
  async cancelBatch (id: string): Promise<BatchView> {
    return await this.#json(`api/batches/${encodeURIComponent(id)}/cancel`, { method: 'POST' })
  }

  /** The download URL of an artifact of a job. */
  artifactUrl (jobId: string, name: string): string {
    return this.url(`api/jobs/${encodeURIComponent(jobId)}/artifacts/${encodeURIComponent(name)}`)
  }

  /**
   * Everything of mine, live: a snapshot first, then every change. One stream for all watches of this client; after a
   * break it resumes from the last cursor, and api/progress is polled meanwhile (delivered as snapshots).
   */
  watchAll (onEvent: (event: FeedEvent) => void, options: WatchOptions = {}): Watch {
    const unsubscribe = this.#feed.subscribe({ onEvent, onConnection: options.onConnection })
    return { close: unsubscribe }
  }

  /** One job, live: `onUpdate` gets each new state of it; the watch ends when the job does. */
  watchJob (id: string, onUpdate: (job: JobView) => void, options: WatchOptions = {}): JobWatch {
    let finish!: (job: JobView) => void
    let fail!: (err: unknown) => void
    const done = new Promise<JobView>((resolve, reject) => { finish = resolve; fail = reject })
    let heard = false
    let closed = false
    const deliver = (job: JobView | undefined): void => {
      if (closed || job === undefined || job.id !== id) return
      heard = true
      onUpdate(job)
      if (isFinished(job)) {
        close()
        finish(job)
      }
    }
    const watch = this.watchAll((event) => {
      if (event.kind === 'snapshot') deliver(event.jobs.find((job) => job.id === id))
      else if ('job' in event) deliver(event.job)
    }, options)
    const close = (): void => {
      closed = true
      watch.close()
    }
    // A job finished long ago is in no snapshot: read it once (a feed update heard first wins: it is newer).
    this.getJob(id).then((job) => { if (!heard) deliver(job) }, (err: unknown) => {
      if (closed) return
      close()
      fail(err)
    })
    return { close, done }
  }

  async #request (path: string, init: RequestInit = {}): Promise<Response> {
    return await this.#fetch(this.url(path), {
      ...init,
      credentials: 'same-origin',
      headers: { accept: 'application/json', ...this.#auth, ...(init.headers as Record<string, string> | undefined) }
    })
  }

  async #json<T> (path: string, init: RequestInit = {}): Promise<T> {
    return await this.#read<T>(await this.#request(path, init))
  }

  async #read<T> (res: Response): Promise<T> {
    const text = await res.text()
    const body = text === '' ? undefined : JSON.parse(text) as unknown
    if (!res.ok) throw new JobcastRequestError(res.status, (body ?? {}) as Partial<ErrorBody>)
    return body as T
  }
}

/** A client of the jobcast server at `options.baseUrl` (default: where the page is). */
export function createClient (options: ClientOptions = {}): JobcastClient {
  return new JobcastClient(options)
}
