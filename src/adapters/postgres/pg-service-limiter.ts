import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import { KeyLimiters, type ServiceLimits } from '../../core/key-limiter.ts'
import type { ServiceLimiter } from '../../ports/service-limiter.ts'
import type { PgLog } from './database.ts'

/** What the limiter runs its statements on (a PgDatabase). */
export interface PgQueryable {
  query: <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>
}

/** Options of {@link PgServiceLimiter}. */
export interface PgServiceLimiterOptions {
  /** How long a slot holds without renewal (its node died), in ms; renewed at a third of it (default 30,000). */
  leaseMs?: number
  /** How often a waiter looks again for a free slot or its rate turn, at most, in ms (default 100). */
  pollMs?: number
  log?: PgLog
}

// The database's clock in epoch ms: every node measures slots and rate turns on the same clock.
const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint'

/**
 * Service limits across every node of a PostgreSQL cluster. Slots are rows of `jobcast.service_slots` (key, slot
 * number) taken with `FOR UPDATE SKIP LOCKED` and held under a lease this process renews; a node that dies loses
 * its slots when their lease runs out. A key's rate is the time of its last start in `jobcast.service_rates`,
 * checked and moved in one statement under the row's lock, so that two nodes never start within one spacing. On
 * this node, the in-process limiter gates first: at most `concurrency` waiters per key ask the database.
 */
export class PgServiceLimiter implements ServiceLimiter {
  readonly #db: PgQueryable
  readonly #leaseMs: number
  readonly #pollMs: number
  readonly #log: PgLog | undefined
  readonly #local = new KeyLimiters()
  readonly #instance = randomBytes(8).toString('hex')
  // Held slots: holder id -> key and slot number.
  readonly #held = new Map<string, { key: string, slot: number }>()
  readonly #seeded = new Set<string>()
  readonly #pending = new Set<Promise<void>>()
  #renewer: NodeJS.Timeout | undefined
  #closed = false
  #counter = 0

  constructor (db: PgQueryable, options: PgServiceLimiterOptions = {}) {
    this.#db = db
    this.#leaseMs = options.leaseMs ?? 30_000
    this.#pollMs = options.pollMs ?? 100
    this.#log = options.log
  }

  async acquire (limits: ServiceLimits, signal: AbortSignal): Promise<() => void> {
    const concurrency = limits.concurrency
    // Locally the concurrency only: the rate is the database's to space across nodes.
    const releaseLocal = await this.#local.acquire({ key: limits.key, ...(concurrency === undefined ? {} : { concurrency }) }, signal)
    let holder: string | undefined
    try {
      if (concurrency !== undefined) holder = await this.#takeSlot(limits.key, concurrency, signal)
      if (limits.ratePerSecond !== undefined && limits.ratePerSecond > 0) await this.#takeTurn(limits.key, 1000 / limits.ratePerSecond, signal)
    } catch (err) {
      if (holder !== undefined) this.#giveBack(holder)
      releaseLocal()
      throw err
    }
    let released = false
    return () => {
      if (released) return
      released = true
      if (holder !== undefined) this.#giveBack(holder)
      releaseLocal()
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    clearInterval(this.#renewer)
    this.#renewer = undefined
    for (const holder of [...this.#held.keys()]) this.#giveBack(holder)
    await Promise.all([...this.#pending])
  }

  // A free slot of the key (none held, or its lease ran out), waiting `pollMs` between looks.
  async #takeSlot (key: string, concurrency: number, signal: AbortSignal): Promise<string> {
    if (!this.#seeded.has(`${key}\0${concurrency}`)) {
      await this.#db.query('INSERT INTO jobcast.service_slots (key, slot) SELECT $1, g FROM generate_series(0, $2::integer - 1) g ON CONFLICT DO NOTHING', [key, concurrency])
      this.#seeded.add(`${key}\0${concurrency}`)
    }
    const holder = `${this.#instance}-${++this.#counter}`
    for (;;) {
      signal.throwIfAborted()
      const { rows } = await this.#db.query<{ slot: number }>(`
        UPDATE jobcast.service_slots SET holder = $3, expires_at = ${NOW_MS} + $4
        WHERE (key, slot) = (SELECT key, slot FROM jobcast.service_slots
          WHERE key = $1 AND slot < $2 AND (holder IS NULL OR expires_at < ${NOW_MS}) ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED)
        RETURNING slot`, [key, concurrency, holder, this.#leaseMs])
      if (rows[0] !== undefined) {
        this.#held.set(holder, { key, slot: rows[0].slot })
        this.#renewLater()
        return holder
      }
      await sleep(this.#pollMs, signal)
    }
  }

  // The key's next start: now if the last one was at least `gapMs` ago (moved to now in the same statement, under
  // the row's lock), else wait for the gap to pass and look again (another node may take the turn first).
  async #takeTurn (key: string, gapMs: number, signal: AbortSignal): Promise<void> {
    for (;;) {
      signal.throwIfAborted()
      // The subquery reads the row as it was before this statement: the wait it gives is for a turn not taken.
      const { rows } = await this.#db.query<{ started: boolean, wait: number }>(`
        WITH now AS (SELECT ${NOW_MS} AS ms),
        started AS (
          INSERT INTO jobcast.service_rates AS r (key, last_start_at) SELECT $1, ms FROM now
          ON CONFLICT (key) DO UPDATE SET last_start_at = excluded.last_start_at WHERE r.last_start_at + $2 <= excluded.last_start_at
          RETURNING 1)
        SELECT EXISTS (SELECT 1 FROM started) AS started,
          COALESCE((SELECT r.last_start_at + $2 - now.ms FROM jobcast.service_rates r, now WHERE r.key = $1), 0)::float8 AS wait`, [key, gapMs])
      if (rows[0]!.started) return
      await sleep(Math.max(1, Math.ceil(rows[0]!.wait)), signal)
    }
  }

  // Frees a slot; a release that fails leaves it to run out with its lease.
  #giveBack (holder: string): void {
    const slot = this.#held.get(holder)
    if (slot === undefined) return
    this.#held.delete(holder)
    const done = this.#db.query('UPDATE jobcast.service_slots SET holder = NULL, expires_at = NULL WHERE key = $1 AND slot = $2 AND holder = $3', [slot.key, slot.slot, holder])
      .then(() => {}, (err: unknown) => { this.#log?.warn({ err, key: slot.key }, 'service limits: a slot could not be released; it frees itself when its lease runs out') })
      .finally(() => { this.#pending.delete(done) })
    this.#pending.add(done)
  }

  // Renews the leases of the held slots at a third of the lease, while any is held.
  #renewLater (): void {
    if (this.#renewer !== undefined || this.#closed) return
    this.#renewer = setInterval(() => {
      if (this.#held.size === 0) {
        clearInterval(this.#renewer)
        this.#renewer = undefined
        return
      }
      this.#db.query(`UPDATE jobcast.service_slots SET expires_at = ${NOW_MS} + $2 WHERE holder = ANY($1)`, [[...this.#held.keys()], this.#leaseMs])
        .catch((err: unknown) => { this.#log?.warn({ err }, 'service limits: renewing slot leases failed') })
    }, Math.max(10, Math.floor(this.#leaseMs / 3)))
    this.#renewer.unref()
  }
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(timer); reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
