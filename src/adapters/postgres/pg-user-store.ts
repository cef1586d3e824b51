import { createHash } from 'node:crypto'
import type pg from 'pg'
import { JobcastError } from '../../errors.ts'
import { newSecret } from '../../lib/ids.ts'
import type { UserStore, UserSummary } from '../../ports/user-store.ts'
import { assertTokenLength } from '../sqlite/sqlite-user-store.ts'
import type { PgDatabase } from './database.ts'
import { NodeCache } from './node-cache.ts'

// SHA-256 hex, as the SQLite store keeps them: a token or session id is never stored in clear.
function hash (secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

// Tokens whose user a node keeps, and for how long (a change of tokens resolves only once that has passed).
const CACHED_TOKENS = 10_000
const TOKEN_TTL_MS = 1000

/**
 * {@link UserStore} on PostgreSQL. Each node keeps the users of the tokens it has seen for a second (a look-up was a
 * query on every request, the most frequent of a start; unknown tokens are never kept), and a change of tokens
 * (grant, set, revoke) resolves only once every node's copy has expired (node-cache.ts): when `revoke` resolves,
 * the token answers 401 on every node.
 */
export class PgUserStore implements UserStore {
  readonly #db: PgDatabase
  readonly #tokens = new NodeCache<string | undefined>({ max: CACHED_TOKENS, ttlMs: TOKEN_TTL_MS })
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
    await this.#changeTokens(async (client) => {
      await client.query('INSERT INTO jobcast.users (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [user, now])
      // Only a token that belonged to another user can be in a node's cache with the wrong user.
      const { rows } = await client.query<{ user_name: string }>('SELECT user_name FROM jobcast.tokens WHERE hash = $1 FOR UPDATE', [hash(token)])
      await client.query(`INSERT INTO jobcast.tokens (hash, user_name, created_at) VALUES ($1, $2, $3)
        ON CONFLICT (hash) DO UPDATE SET user_name = excluded.user_name`, [hash(token), user, now])
      return { result: undefined, changed: rows[0] !== undefined && rows[0].user_name !== user }
    })
    return token
  }

  async setTokens (user: string, tokens: string[]): Promise<void> {
    for (const token of tokens) assertTokenLength(token)
    const now = Date.now()
    const hashes = tokens.map(hash)
    await this.#changeTokens(async (client) => {
      await client.query('INSERT INTO jobcast.users (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [user, now])
      const removed = await client.query('DELETE FROM jobcast.tokens WHERE user_name = $1 AND NOT (hash = ANY($2))', [user, hashes])
      const moved = await client.query(`UPDATE jobcast.tokens SET user_name = $2 WHERE hash = ANY($1) AND user_name <> $2`, [hashes, user])
      await client.query(`INSERT INTO jobcast.tokens (hash, user_name, created_at) SELECT h, $2, $3 FROM unnest($1::text[]) AS h
        ON CONFLICT (hash) DO NOTHING`, [hashes, user, now])
      // New tokens cannot be in any cache (unknown ones are never kept): only removed or moved ones can.
      return { result: undefined, changed: (removed.rowCount ?? 0) + (moved.rowCount ?? 0) > 0 }
    })
  }

  async revoke (user: string): Promise<number> {
    return await this.#changeTokens(async (client) => {
      const { rowCount } = await client.query('DELETE FROM jobcast.tokens WHERE user_name = $1', [user])
      await client.query('DELETE FROM jobcast.sessions WHERE user_name = $1', [user])
      return { result: rowCount ?? 0, changed: (rowCount ?? 0) > 0 }
    })
  }

  async listUsers (): Promise<UserSummary[]> {
    const { rows } = await this.#query<{ name: string, tokens: number, created_at: number }>(`
      SELECT u.name, count(t.hash) AS tokens, u.created_at FROM jobcast.users u
      LEFT JOIN jobcast.tokens t ON t.user_name = u.name GROUP BY u.name, u.created_at ORDER BY u.name`)
    return rows.map((row) => ({ name: row.name, tokens: row.tokens, createdAt: row.created_at }))
  }

  async userForToken (token: string): Promise<string | undefined> {
    const key = hash(token)
    const load = async (): Promise<string | undefined> => {
      const { rows } = await this.#query<{ user_name: string }>('SELECT user_name FROM jobcast.tokens WHERE hash = $1', [key])
      return rows[0]?.user_name
    }
    return await this.#tokens.get(key, load, { keep: (user) => user !== undefined })
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

  // A change of tokens: this node forgets the users it knew at once; when a token was removed or moved to another
  // user, the change resolves only once every other node's copy has expired (their reads from then on see it).
  async #changeTokens<T> (fn: (client: pg.PoolClient) => Promise<{ result: T, changed: boolean }>): Promise<T> {
    // Before (a read meanwhile is not kept: see NodeCache) and after the commit.
    this.#tokens.drop()
    let changed = true
    try {
      const outcome = await this.#transaction(fn)
      changed = outcome.changed
      return outcome.result
    } finally {
      this.#tokens.drop()
      // Also when the commit's outcome is unknown (the connection lost): it may have committed.
      if (changed) await this.#tokens.settled()
    }
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
