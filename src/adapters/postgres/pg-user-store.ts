import { createHash } from 'node:crypto'
import type pg from 'pg'
import { JobcastError } from '../../errors.ts'
import { newSecret } from '../../lib/ids.ts'
import type { UserStore, UserSummary } from '../../ports/user-store.ts'
import { assertTokenLength } from '../sqlite/sqlite-user-store.ts'
import type { PgDatabase } from './database.ts'

// SHA-256 hex, as the SQLite store keeps them: a token or session id is never stored in clear.
function hash (secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/**
 * {@link UserStore} on PostgreSQL. Nothing is cached on the node: a revoke or a removed token answers 401 on
 * every node from the moment it commits.
 */
export class PgUserStore implements UserStore {
  readonly #db: PgDatabase
  #closed = false

  constructor (db: PgDatabase) {
    this.#db = db
    db.retain()
  }

  async count (): Promise<number> {
    const { rows } = await this.#query<{ n: number }>('SELECT count(*) AS n FROM jobcast.users')
    return rows[0]!.n
  }

  // 32 random bytes, as the SQLite store grants (`jobcast token create` prints the same on either).
  async grantToken (user: string, token = newSecret(32)): Promise<string> {
    assertTokenLength(token)
    const now = Date.now()
    await this.#transaction(async (client) => {
      await client.query('INSERT INTO jobcast.users (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [user, now])
      await client.query(`INSERT INTO jobcast.tokens (hash, user_name, created_at) VALUES ($1, $2, $3)
        ON CONFLICT (hash) DO UPDATE SET user_name = excluded.user_name`, [hash(token), user, now])
    })
    return token
  }

  async setTokens (user: string, tokens: string[]): Promise<void> {
    for (const token of tokens) assertTokenLength(token)
    const now = Date.now()
    const hashes = tokens.map(hash)
    await this.#transaction(async (client) => {
      await client.query('INSERT INTO jobcast.users (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [user, now])
      await client.query('DELETE FROM jobcast.tokens WHERE user_name = $1 AND NOT (hash = ANY($2))', [user, hashes])
      await client.query(`INSERT INTO jobcast.tokens (hash, user_name, created_at) SELECT h, $2, $3 FROM unnest($1::text[]) AS h
        ON CONFLICT (hash) DO UPDATE SET user_name = excluded.user_name`, [hashes, user, now])
    })
  }

  async revoke (user: string): Promise<number> {
    return await this.#transaction(async (client) => {
      const { rowCount } = await client.query('DELETE FROM jobcast.tokens WHERE user_name = $1', [user])
      await client.query('DELETE FROM jobcast.sessions WHERE user_name = $1', [user])
      return rowCount ?? 0
    })
  }

  async listUsers (): Promise<UserSummary[]> {
    const { rows } = await this.#query<{ name: string, tokens: number, created_at: number }>(`
      SELECT u.name, count(t.hash) AS tokens, u.created_at FROM jobcast.users u
      LEFT JOIN jobcast.tokens t ON t.user_name = u.name GROUP BY u.name, u.created_at ORDER BY u.name`)
    return rows.map((row) => ({ name: row.name, tokens: row.tokens, createdAt: row.created_at }))
  }

  async userForToken (token: string): Promise<string | undefined> {
    const { rows } = await this.#query<{ user_name: string }>('SELECT user_name FROM jobcast.tokens WHERE hash = $1', [hash(token)])
    return rows[0]?.user_name
  }

  async createSession (user: string, ttlMs: number): Promise<string> {
    const id = newSecret(32)
    await this.#query('INSERT INTO jobcast.sessions (hash, user_name, expires_at) VALUES ($1, $2, $3)', [hash(id), user, Date.now() + ttlMs])
    return id
  }

  async userForSession (sessionId: string): Promise<string | undefined> {
    const { rows } = await this.#query<{ user_name: string }>(
      'SELECT user_name FROM jobcast.sessions WHERE hash = $1 AND expires_at > $2', [hash(sessionId), Date.now()])
    return rows[0]?.user_name
  }

  async deleteSession (sessionId: string): Promise<void> {
    await this.#query('DELETE FROM jobcast.sessions WHERE hash = $1', [hash(sessionId)])
  }

  async purgeSessions (now: number): Promise<number> {
    const { rowCount } = await this.#query('DELETE FROM jobcast.sessions WHERE expires_at <= $1', [now])
    return rowCount ?? 0
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#db.release()
  }

  async #query<R extends pg.QueryResultRow> (text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    if (this.#closed) throw new JobcastError('STORE_CLOSED', 'the user store is closed', 503)
    return await this.#db.query<R>(text, values)
  }

  async #transaction<T> (fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.#closed) throw new JobcastError('STORE_CLOSED', 'the user store is closed', 503)
    return await this.#db.transaction(fn)
  }
}
