import pg from 'pg'
import { JobcastError } from '../../errors.ts'
import { migrate } from './migrations.ts'

/** The subset of a pino logger the PostgreSQL adapters write to. */
export interface PgLog {
  info: (obj: object, msg: string) => void
  warn: (obj: object, msg: string) => void
  error: (obj: object, msg: string) => void
}

/** A logger that drops everything (the default when none is given). */
export const silentLog: PgLog = { info () {}, warn () {}, error () {} }

/** Options of {@link PgDatabase.open}. */
export interface PgDatabaseOptions {
  /** Connections in the pool (default 10). */
  max?: number
  /** How long a query waits for a free or new connection before it fails (default 5000 ms). */
  connectionTimeoutMs?: number
  log?: PgLog
}

// int8 (counts, bigserial ids, epoch-ms columns) as numbers: every value jobcast stores stays below 2^53.
// Set on each pool's connections, not on the pg module, so that another user of pg in the process is unaffected.
const INT8 = 20
const typeParsers = {
  getTypeParser (oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === INT8) return (value: string) => Number(value)
    return pg.types.getTypeParser(oid, format as 'text')
  }
}

/**
 * One PostgreSQL database shared by the adapters of a node: the connection pool and the settings every
 * connection needs. The schema is brought up to date by `open`. The pool ends when the opener and every store
 * built on it have closed (each holds a reference), so the order of the closes does not matter.
 */
export class PgDatabase {
  /** The pool; queries through it run on any connection. */
  readonly pool: pg.Pool
  readonly log: PgLog
  readonly #config: pg.ClientConfig
  #references = 1
  #closed = false
  #ended: Promise<void> | undefined

  private constructor (url: string, options: PgDatabaseOptions) {
    this.log = options.log ?? silentLog
    // keepAlive: a partition (no FIN, no RST) is noticed by TCP instead of leaving a connection silent for ever.
    this.#config = { connectionString: url, types: typeParsers, connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000, keepAlive: true }
    // allowExitOnIdle: a pool someone forgot to close does not keep the process alive.
    this.pool = new pg.Pool({ ...this.#config, max: options.max ?? 10, allowExitOnIdle: true })
    // An idle connection that PostgreSQL drops (restart, terminate) emits here; the pool has already discarded
    // it and opens a new one on the next query. Without a listener the error would end the process.
    this.pool.on('error', (err) => { this.log.warn({ err }, 'postgres: idle connection lost') })
  }

  /** Connects to `url` and migrates the schema (under an advisory lock: safe when several nodes start at once). */
  static async open (url: string, options: PgDatabaseOptions = {}): Promise<PgDatabase> {
    const database = new PgDatabase(url, options)
    try {
      await migrate(database.pool)
    } catch (err) {
      await database.pool.end()
      throw err
    }
    return database
  }

  /** A new connection outside the pool (for LISTEN), with the same settings. */
  client (): pg.Client {
    return new pg.Client(this.#config)
  }

  /** Runs one statement on any connection of the pool; a lost or refused connection rejects with {@link unavailable}. */
  async query<R extends pg.QueryResultRow> (text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values)
    } catch (err) {
      throw unavailable(err)
    }
  }

  /**
   * Runs `fn` in a transaction on one connection: committed if it resolves, rolled back if it throws. A lost or
   * refused connection rejects with {@link unavailable} (the commit of a lost one is unknown: re-read, never re-send).
   */
  async transaction<T> (fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    try {
      return await this.#transaction(fn)
    } catch (err) {
      throw unavailable(err)
    }
  }

  async #transaction<T> (fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect()
    let broken: unknown
    // A checked-out client has no pool listener: a connection lost between two statements would emit an
    // unhandled 'error' (and end the process). The next statement rejects with it instead.
    const onError = (err: Error): void => { broken ??= err }
    client.on('error', onError)
    try {
      await client.query('BEGIN')
      const result = await fn(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      broken = err
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      // A connection that failed mid-transaction may be unusable: release(err) destroys it instead of pooling it.
      client.off('error', onError)
      client.release(broken instanceof Error && isConnectionError(broken) ? broken : undefined)
    }
  }

  /** Takes a reference: the pool stays open until it is given back by `release`. */
  retain (): void {
    this.#references++
  }

  /** Gives back a reference taken by `retain`. */
  async release (): Promise<void> {
    if (--this.#references === 0) this.#ended ??= this.pool.end()
    await this.#ended
  }

  /** Gives back the opener's reference; safe to call twice. */
  async close (): Promise<void> {
    if (this.#closed) return await this.#ended
    this.#closed = true
    await this.release()
  }
}

/**
 * The error to raise for `err`: a connection that failed (server restarting, unreachable, pool exhausted) becomes a
 * 503 `STORE_UNAVAILABLE`, which clients may retry; anything else (a statement's own error) is passed through.
 */
export function unavailable (err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof JobcastError || !isConnectionError(err)) return err
  return new JobcastError('STORE_UNAVAILABLE', 'the database cannot be reached right now; try again in a moment', 503, { cause: err })
}

/** Whether `err` says the connection (not the statement) failed: the server went away or the socket broke. */
export function isConnectionError (err: Error): boolean {
  const code = (err as { code?: unknown }).code
  // pg-pool's "timeout exceeded when trying to connect" has no code, nor has "Connection terminated unexpectedly".
  if (typeof code !== 'string') return /Connection terminated|connection|trying to connect|not queryable/i.test(err.message)
  // 08: connection exceptions; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now; E*: socket errors.
  return code.startsWith('08') || code.startsWith('57P') || code.startsWith('E')
}
