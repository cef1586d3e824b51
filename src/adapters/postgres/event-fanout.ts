import type { JobEventKind, JobRecord } from '../../core/model.ts'
import type { JobEvent } from '../../ports/job-events.ts'
import type { PgDatabase } from './database.ts'

/** A row of jobcast.events. */
export interface EventRow {
  id: number
  owner: string
  seq: number
  kind: string
  job_id: string
  batch_id: string | null
  data: string
}

/** The columns of {@link EventRow}, for SELECTs. */
export const EVENT_COLUMNS = 'id, owner, seq, kind, job_id, batch_id, data'

// Rows fetched per query while catching up; the drain loops until it has them all.
const PAGE = 500
// Owners whose last delivered seq is remembered (for the gap repair); the least recently heard are forgotten.
const MAX_OWNERS = 10_000
// Records kept for events this node published, until the fan-out delivers them (bounded if it never does).
const MAX_LOCAL = 10_000
// Ids given up on are looked for again, in case their transaction commits late, for this long and this many.
const SKIPPED_MS = 10 * 60_000
const MAX_SKIPPED = 1000

/** The event a row holds, with the cursor `epoch-seq`. */
export function toEvent (row: EventRow, epoch: string): JobEvent {
  return { kind: row.kind as JobEventKind, jobId: row.job_id, owner: row.owner, batchId: row.batch_id, data: row.data, cursor: `${epoch}-${row.seq}` }
}

/**
 * Delivers the events table to this node's subscribers in id order without gaps, woken by notifications that
 * carry only ids. Ids are taken when a row is inserted, so a transaction can commit after one with a higher id:
 * the fan-out never moves past a missing id until it shows up or `gapMs` has passed (a rolled-back insert, or
 * ids a sequence skipped after a crash, never show up). An id given up on is still fetched with every later
 * page, so an event that commits even later is delivered then, and before its owner's next event (which
 * cannot commit before it: the owner's seq row is locked until then). As a last resort, a jump in an owner's seq
 * fetches the events in between before the later one.
 */
export class EventFanout {
  readonly #db: PgDatabase
  readonly #epoch: string
  readonly #gapMs: number
  readonly #listeners = new Set<(event: JobEvent) => void>()
  readonly #lastSeq = new Map<string, number>()
  readonly #local = new Map<number, JobRecord>()
  readonly #inflight = new Set<Promise<unknown>>()
  readonly #skipped = new Map<number, number>()
  #watermark = 0
  #gapSince: number | undefined
  #gapTimer: NodeJS.Timeout | undefined
  #draining = false
  #again = false
  #closed = false

  constructor (db: PgDatabase, epoch: string, options: { gapMs: number }) {
    this.#db = db
    this.#epoch = epoch
    this.#gapMs = options.gapMs
  }

  /** Starts from the newest event now: subscribers hear what is published from here on. */
  async start (): Promise<void> {
    const { rows } = await this.#db.pool.query<{ id: number | null }>('SELECT max(id) AS id FROM jobcast.events')
    this.#watermark = rows[0]?.id ?? 0
  }

  /** Adds a listener; the returned function removes it. */
  subscribe (listener: (event: JobEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /**
   * Tracks a publish of this node until it resolves: rows are not delivered while one is pending, so that its
   * record (given to `remember` before it settles) is attached to its event even when the notification beats
   * the publish's own answer.
   */
  track<T> (publish: Promise<T>): Promise<T> {
    this.#inflight.add(publish)
    const done = (): void => { this.#inflight.delete(publish) }
    publish.then(done, done)
    return publish
  }

  /** Keeps the record of an event this node published, for its local listeners. */
  remember (id: number, job: JobRecord): void {
    if (this.#local.size >= MAX_LOCAL) this.#local.clear()
    this.#local.set(id, job)
  }

  /** Fetches and delivers what is new; calls while a drain runs make it go round once more. */
  wake (): void {
    if (this.#closed) return
    if (this.#draining) { this.#again = true; return }
    this.#draining = true
    void this.#drainAll().finally(() => { this.#draining = false })
  }

  /** Stops delivering. */
  close (): void {
    this.#closed = true
    clearTimeout(this.#gapTimer)
    this.#listeners.clear()
  }

  async #drainAll (): Promise<void> {
    try {
      do {
        this.#again = false
        await this.#drain()
      } while (this.#again && !this.#closed)
    } catch (err) {
      // The rows stay in the table: the next notification, reconnect or gap timer fetches them again.
      this.#db.log.warn({ err }, 'postgres: event fan-out failed, will retry')
      this.#armGapTimer(this.#gapMs)
    }
  }

  async #drain (): Promise<void> {
    for (;;) {
      this.#forgetSkipped()
      // One statement, one snapshot: a late event and its owner's next one are seen together, in id order. The
      // skipped ids are a second index scan, only when there are any: `id > $1 OR id = ANY($2)` could not use the
      // primary key's order and cost ~2 ms a fetch at ~10 rows.
      const { rows } = this.#skipped.size === 0
        ? await this.#db.pool.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM jobcast.events WHERE id > $1 ORDER BY id LIMIT ${PAGE}`, [this.#watermark])
        : await this.#db.pool.query<EventRow>(
          `(SELECT ${EVENT_COLUMNS} FROM jobcast.events WHERE id > $1 ORDER BY id LIMIT ${PAGE})
           UNION ALL (SELECT ${EVENT_COLUMNS} FROM jobcast.events WHERE id = ANY($2::bigint[])) ORDER BY id LIMIT ${PAGE}`,
          [this.#watermark, [...this.#skipped.keys()]])
      if (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight])
      for (const row of rows) {
        if (this.#closed) return
        if (row.id <= this.#watermark) {
          this.#skipped.delete(row.id)
          await this.#deliver(row)
          continue
        }
        if (row.id !== this.#watermark + 1) {
          const now = Date.now()
          this.#gapSince ??= now
          const waited = now - this.#gapSince
          if (waited < this.#gapMs) { this.#armGapTimer(this.#gapMs - waited); return }
          for (let id = this.#watermark + 1; id < row.id && this.#skipped.size < MAX_SKIPPED; id++) this.#skipped.set(id, now)
        }
        await this.#deliver(row)
        this.#watermark = row.id
        this.#gapSince = undefined
      }
      if (rows.length < PAGE) return
    }
  }

  async #deliver (row: EventRow): Promise<void> {
    const last = this.#lastSeq.get(row.owner)
    if (last !== undefined && row.seq <= last) return
    if (last !== undefined && row.seq > last + 1) {
      const { rows: missed } = await this.#db.pool.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM jobcast.events WHERE owner = $1 AND seq > $2 AND seq < $3 ORDER BY seq`, [row.owner, last, row.seq])
      for (const earlier of missed) this.#emit(earlier)
    }
    this.#emit(row)
  }

  #emit (row: EventRow): void {
    this.#lastSeq.delete(row.owner)
    if (this.#lastSeq.size >= MAX_OWNERS) this.#lastSeq.delete(this.#lastSeq.keys().next().value!)
    this.#lastSeq.set(row.owner, row.seq)
    const event = toEvent(row, this.#epoch)
    const job = this.#local.get(row.id)
    if (job !== undefined) {
      this.#local.delete(row.id)
      event.job = job
    }
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch (err) {
        this.#db.log.error({ err, jobId: row.job_id, kind: row.kind }, 'job event listener failed')
      }
    }
  }

  #forgetSkipped (): void {
    const oldest = Date.now() - SKIPPED_MS
    for (const [id, at] of this.#skipped) if (at < oldest) this.#skipped.delete(id)
  }

  #armGapTimer (ms: number): void {
    if (this.#closed || this.#gapTimer !== undefined) return
    this.#gapTimer = setTimeout(() => {
      this.#gapTimer = undefined
      this.wake()
    }, ms)
  }
}
