import { randomBytes } from 'node:crypto'
import { JobcastError } from '../../errors.ts'
import type { JobEvent, JobEventInput, JobEvents, Unsubscribe } from '../../ports/job-events.ts'
import type { JobRecord } from '../../core/model.ts'
import type { PgDatabase } from './database.ts'
import { EVENT_COLUMNS, EventFanout, type EventRow, toEvent } from './event-fanout.ts'
import { CHANNEL } from './channel.ts'
import { EventWriter } from './event-writer.ts'
import { Announcer } from './announcer.ts'
import { NotifyListener, type NotifyListenerOptions } from './notify-listener.ts'

export { CHANNEL } from './channel.ts'

/** Options of {@link PgJobEvents.open}. */
export interface PgJobEventsOptions {
  /** How long the fan-out waits for a missing event id before it moves on (default 500 ms). */
  gapMs?: number
  /** History kept per owner: events older than `maxAgeMs` (default 24 h) or beyond the newest `maxPerOwner` (default 1000) are pruned every `intervalMs` (default 60 s; 0: never, call `prune` yourself). */
  retention?: { maxAgeMs?: number, maxPerOwner?: number, intervalMs?: number }
  /** Reconnect backoff of the LISTEN connection. */
  reconnect?: NotifyListenerOptions
}

// An owner's events after a seq, with the owner's head and pruned seq read in the same snapshot.
const SINCE = `
  SELECT o.seq AS head, o.pruned, ${EVENT_COLUMNS.split(', ').map((c) => `e.${c}`).join(', ')}
  FROM jobcast.event_owners o LEFT JOIN jobcast.events e ON e.owner = o.owner AND e.seq > $2
  WHERE o.owner = $1 ORDER BY e.seq`

// Deletes what is too old or beyond the newest $2 of each owner, and raises each owner's `pruned` to the
// highest seq deleted: every event after `pruned` is still there, so a cursor below it cannot be replayed.
const PRUNE = `
  WITH gone AS (
    DELETE FROM jobcast.events e USING jobcast.event_owners o
    WHERE e.owner = o.owner AND (e.created_at < $1 OR e.seq <= o.seq - $2)
    RETURNING e.owner, e.seq
  ), latest AS (
    SELECT owner, max(seq) AS seq FROM gone GROUP BY owner
  ), raised AS (
    UPDATE jobcast.event_owners o SET pruned = GREATEST(o.pruned, latest.seq) FROM latest WHERE o.owner = latest.owner RETURNING 1
  )
  SELECT (SELECT count(*) FROM gone) AS n, (SELECT count(*) FROM raised) AS owners`

const CURSOR = /^([0-9a-f]{1,16})-(\d{1,15})$/

/**
 * {@link JobEvents} on PostgreSQL: an events table every node appends to, one LISTEN connection per node that
 * fans new events out to the node's subscribers, and cancel requests over the same channel. A cursor is
 * `<epoch>-<seq>`: the epoch names the database's event log, the seq counts the owner's events only, so a
 * cursor is valid on every node and says nothing about other owners' activity.
 */
export class PgJobEvents implements JobEvents {
  readonly #db: PgDatabase
  readonly #epoch: string
  readonly #fanout: EventFanout
  readonly #writer: EventWriter
  readonly #announcer: Announcer
  readonly #listener: NotifyListener
  readonly #cancelListeners = new Set<(jobId: string) => void>()
  readonly #retention: { maxAgeMs: number, maxPerOwner: number, intervalMs: number }
  // Names this node's announcements, which its own fan-out (woken by the publish itself) ignores.
  readonly #announcement = `e:${randomBytes(6).toString('hex')}`
  #pruneTimer: NodeJS.Timeout | undefined
  #closed: Promise<void> | undefined

  private constructor (db: PgDatabase, epoch: string, options: PgJobEventsOptions) {
    this.#db = db
    this.#epoch = epoch
    this.#fanout = new EventFanout(db, epoch, { gapMs: options.gapMs ?? 500 })
    this.#retention = { maxAgeMs: 24 * 3600_000, maxPerOwner: 1000, intervalMs: 60_000, ...options.retention }
    this.#listener = new NotifyListener(db, CHANNEL, {
      onNotify: (payload) => { this.#onNotify(payload) },
      onConnect: async () => { this.#fanout.wake() }
    }, options.reconnect)
    this.#announcer = new Announcer(db, this.#listener, CHANNEL, this.#announcement)
    this.#writer = new EventWriter(db, this.#announcer)
  }

  /** Starts listening; resolves once this node hears every event published from then on. */
  static async open (db: PgDatabase, options: PgJobEventsOptions = {}): Promise<PgJobEvents> {
    const { rows } = await db.pool.query<{ value: string }>("SELECT value FROM jobcast.meta WHERE key = 'events_epoch'")
    const events = new PgJobEvents(db, rows[0]!.value, options)
    db.retain()
    try {
      // LISTEN first, then the starting point: an event committed in between is both heard and after it.
      await events.#listener.start()
      await events.#fanout.start()
    } catch (err) {
      await events.close()
      throw err
    }
    if (events.#retention.intervalMs > 0) {
      events.#pruneTimer = setInterval(() => {
        events.prune().catch((err: unknown) => { db.log.warn({ err }, 'postgres: event pruning failed') })
      }, events.#retention.intervalMs).unref()
    }
    return events
  }

  async publish (event: JobEventInput): Promise<JobEvent> {
    this.#assertOpen()
    // Appended with the other events this node publishes meanwhile (event-writer.ts), in one commit.
    const published = this.#fanout.track(this.#writer.append({ ...event, createdAt: Date.now() }).then((row) => {
      if (event.job !== undefined) this.#fanout.remember(row.id, event.job)
      return row
    }))
    const { seq } = await published
    // This node's subscribers need no round trip through the server (its own announcement is ignored).
    this.#fanout.wake()
    return { ...event, cursor: `${this.#epoch}-${seq}` }
  }

  /**
   * Delivers events that a store write appended in its own commit (`JobStore.appendsEvents`): `write` resolves
   * with their rows and records once committed. While it is pending, the fan-out delivers nothing newer, so that
   * the records are attached to their events (as for `publish`); then this node's subscribers hear of them at once
   * and the other nodes soon after.
   */
  async appended<T> (write: Promise<T>, rows: (written: T) => Array<{ id: number, job: JobRecord }>): Promise<T> {
    const written = await this.#fanout.track(write.then((result) => {
      for (const row of rows(result)) this.#fanout.remember(row.id, row.job)
      return result
    }))
    this.#fanout.wake()
    this.#announcer.announce()
    return written
  }

  subscribe (listener: (event: JobEvent) => void): Unsubscribe {
    return this.#fanout.subscribe(listener)
  }

  async since (owner: string, cursor: string): Promise<JobEvent[] | undefined> {
    this.#assertOpen()
    const match = CURSOR.exec(cursor)
    if (match === null || match[1] !== this.#epoch) return undefined
    const after = Number(match[2])
    const { rows } = await this.#db.query<EventRow & { head: number, pruned: number }>(SINCE, [owner, after])
    if (rows[0] === undefined) return after === 0 ? [] : undefined
    const { head, pruned } = rows[0]
    if (after > head || after < pruned) return undefined
    const events = rows.filter((row) => row.id !== null).map((row) => toEvent(row, this.#epoch))
    // Never a silent gap: every seq from the cursor to the head must be there.
    return events.length === head - after ? events : undefined
  }

  async head (owner: string): Promise<string> {
    this.#assertOpen()
    const { rows } = await this.#db.query<{ seq: number }>('SELECT seq FROM jobcast.event_owners WHERE owner = $1', [owner])
    return `${this.#epoch}-${rows[0]?.seq ?? 0}`
  }

  async requestCancel (jobId: string): Promise<void> {
    this.#assertOpen()
    await this.#db.query('SELECT pg_notify($1, $2)', [CHANNEL, `c:${jobId}`])
  }

  onCancelRequest (listener: (jobId: string) => void): Unsubscribe {
    this.#cancelListeners.add(listener)
    return () => { this.#cancelListeners.delete(listener) }
  }

  /** Prunes history now (see `retention`); resolves with the number of events deleted. */
  async prune (now = Date.now()): Promise<number> {
    const { maxAgeMs, maxPerOwner } = this.#retention
    const { rows } = await this.#db.pool.query<{ n: number }>(PRUNE, [now - maxAgeMs, maxPerOwner])
    return rows[0]!.n
  }

  /** Whether this node hears the other nodes' events now (its LISTEN connection is up). */
  health (): { ok: boolean, error?: string } {
    return this.#listener.health()
  }

  async close (): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#pruneTimer)
      this.#fanout.close()
      this.#announcer.close()
      this.#cancelListeners.clear()
      await this.#listener.close()
      await this.#db.release()
    })()
    await this.#closed
  }

  #onNotify (payload: string): void {
    if (payload === this.#announcement) return
    if (payload.startsWith('e:')) {
      this.#fanout.wake()
    } else if (payload.startsWith('c:')) {
      const jobId = payload.slice(2)
      for (const listener of this.#cancelListeners) {
        try {
          listener(jobId)
        } catch (err) {
          this.#db.log.error({ err, jobId }, 'cancel listener failed')
        }
      }
    }
  }

  #assertOpen (): void {
    if (this.#closed !== undefined) throw new JobcastError('EVENTS_CLOSED', 'the job events are closed', 503)
  }
}
