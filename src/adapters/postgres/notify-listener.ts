import type pg from 'pg'
import type { PgDatabase } from './database.ts'

/** What a {@link NotifyListener} tells its owner. */
export interface NotifyHandlers {
  /** A notification's payload, in the order the server sent them. */
  onNotify: (payload: string) => void
  /** Called after each (re)connection once LISTEN is in place: time to catch up on what was missed meanwhile. */
  onConnect: () => Promise<void>
}

/** Options of a {@link NotifyListener}. */
export interface NotifyListenerOptions {
  /** First wait before a reconnect (default 100 ms); doubled after each failure, with jitter. */
  minBackoffMs?: number
  /** Longest wait between reconnects (default 5000 ms). */
  maxBackoffMs?: number
}

/**
 * One LISTEN connection, outside the pool, that comes back by itself: when PostgreSQL restarts or drops the
 * connection it reconnects with exponential backoff and calls `onConnect`, so the owner can fetch what was
 * published while it was away (notifications sent meanwhile are lost; the data they point at is not).
 */
export class NotifyListener {
  readonly #db: PgDatabase
  readonly #channel: string
  readonly #handlers: NotifyHandlers
  readonly #minBackoffMs: number
  readonly #maxBackoffMs: number
  #client: pg.Client | undefined
  #failures = 0
  #timer: NodeJS.Timeout | undefined
  #lastError: string | undefined
  #closed = false

  constructor (db: PgDatabase, channel: string, handlers: NotifyHandlers, options: NotifyListenerOptions = {}) {
    this.#db = db
    this.#channel = channel
    this.#handlers = handlers
    this.#minBackoffMs = options.minBackoffMs ?? 100
    this.#maxBackoffMs = options.maxBackoffMs ?? 5000
  }

  /** Connects the first time; rejects if that fails (later losses are retried in the background). */
  async start (): Promise<void> {
    await this.#connect()
  }

  /** Whether LISTEN is in place now, and why not. */
  health (): { ok: boolean, error?: string } {
    if (this.#client !== undefined) return { ok: true }
    return { ok: false, error: this.#closed ? 'closed' : (this.#lastError ?? 'connecting') }
  }

  /**
   * Runs `sql` on the listening connection, which is idle between notifications (so that what a node sends often,
   * its announcements, waits for no pool connection); resolves false without running it when not connected.
   */
  async send (sql: string): Promise<boolean> {
    const client = this.#client
    if (client === undefined) return false
    await client.query(sql)
    return true
  }

  /** Drops the connection and stops reconnecting; safe to call twice. */
  async close (): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => {})
  }

  async #connect (): Promise<void> {
    const client = this.#db.client()
    client.on('error', (err) => { this.#lost(client, err) })
    client.on('end', () => { this.#lost(client, new Error('connection ended')) })
    client.on('notification', (message) => {
      if (client === this.#client && message.channel === this.#channel) this.#handlers.onNotify(message.payload ?? '')
    })
    try {
      await client.connect()
      await client.query(`LISTEN "${this.#channel}"`)
    } catch (err) {
      await client.end().catch(() => {})
      throw err
    }
    if (this.#closed) { await client.end().catch(() => {}); return }
    this.#client = client
    this.#failures = 0
    this.#lastError = undefined
    this.#db.log.info({ channel: this.#channel }, 'postgres: listening')
    await this.#handlers.onConnect()
  }

  #lost (client: pg.Client, err: Error): void {
    if (client !== this.#client) return
    this.#client = undefined
    this.#lastError = err.message
    client.end().catch(() => {})
    if (this.#closed) return
    this.#db.log.warn({ err, channel: this.#channel }, 'postgres: LISTEN connection lost, reconnecting')
    this.#retry()
  }

  #retry (): void {
    const backoff = Math.min(this.#maxBackoffMs, this.#minBackoffMs * 2 ** this.#failures)
    // Jitter: nodes that lost the server together do not all come back in the same millisecond.
    const delay = backoff / 2 + Math.random() * backoff / 2
    this.#timer = setTimeout(() => {
      this.#connect().catch((err: Error) => {
        this.#failures++
        this.#lastError = err.message
        if (!this.#closed) this.#retry()
      })
    }, delay)
  }
}
