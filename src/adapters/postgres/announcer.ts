import type { PgDatabase } from './database.ts'
import type { NotifyListener } from './notify-listener.ts'

/**
 * Tells the other nodes that this node committed events: `pg_notify` in a transaction of its own, at most one in
 * flight, the calls made meanwhile answered by one more. A notifying commit holds a database-wide lock until it
 * ends, WAL flush included; sent from the events' own commit, it made every event commit of the cluster wait for
 * the one before (two nodes ran fewer jobs than one). Alone, with `synchronous_commit` off (a notification needs no
 * durability: a node that missed one catches up on its next wake-up, reconnect or gap timer), the lock is held for
 * microseconds. The payload is sent as SQL text: it must be a literal the caller controls (hex, no quotes).
 */
export class Announcer {
  readonly #db: PgDatabase
  readonly #listener: NotifyListener
  readonly #sql: string
  #sending = false
  #again = false
  #closed = false

  /** Sends on `listener`'s connection when it is up, else on one of the pool's. */
  constructor (db: PgDatabase, listener: NotifyListener, channel: string, payload: string) {
    if (!/^[\w:]+$/.test(channel + payload)) throw new Error(`announcement must be word characters: ${channel} ${payload}`)
    this.#db = db
    this.#listener = listener
    this.#sql = `BEGIN; SET LOCAL synchronous_commit TO off; SELECT pg_notify('${channel}', '${payload}'); COMMIT`
  }

  /** Sends the announcement soon after now (never before: a listener woken by it sees what committed before the call). */
  announce (): void {
    if (this.#closed) return
    if (this.#sending) { this.#again = true; return }
    this.#sending = true
    void this.#send()
  }

  /** Sends nothing more. */
  close (): void {
    this.#closed = true
  }

  async #send (): Promise<void> {
    do {
      this.#again = false
      try {
        if (!await this.#listener.send(this.#sql)) await this.#db.pool.query(this.#sql)
      } catch (err) {
        // The events are committed: the other nodes find them on their next wake-up, reconnect or gap timer.
        this.#db.log.warn({ err }, 'postgres: event announcement failed')
      }
    } while (this.#again && !this.#closed)
    this.#sending = false
  }
}
