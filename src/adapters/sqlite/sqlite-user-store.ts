import { createHash } from 'node:crypto'
import type { Statement } from 'better-sqlite3'
import type { UserStore, UserSummary } from '../../ports/user-store.ts'
import type { Db } from './database.ts'
import { newSecret } from '../../lib/ids.ts'

/** SHA-256 of a secret, hex: tokens and session ids are stored only this way. */
export function hashSecret (secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** The embedded {@link UserStore}: users, tokens and sessions in the SQLite file, secrets hashed. */
export class SqliteUserStore implements UserStore {
  readonly #db: Db
  readonly #s: Record<'addUser' | 'addToken' | 'userByToken' | 'userBySession' | 'addSession' | 'deleteSession' | 'count' | 'deleteTokens' | 'deleteSessions' | 'purge' | 'list', Statement>

  constructor (db: Db) {
    this.#db = db
    this.#s = {
      addUser: db.prepare('INSERT INTO users (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING'),
      addToken: db.prepare('INSERT INTO tokens (hash, user_name, created_at) VALUES (?, ?, ?) ON CONFLICT (hash) DO UPDATE SET user_name = excluded.user_name'),
      userByToken: db.prepare('SELECT user_name FROM tokens WHERE hash = ?'),
      userBySession: db.prepare('SELECT user_name FROM sessions WHERE hash = ? AND expires_at > ?'),
      addSession: db.prepare('INSERT INTO sessions (hash, user_name, expires_at) VALUES (?, ?, ?)'),
      deleteSession: db.prepare('DELETE FROM sessions WHERE hash = ?'),
      count: db.prepare('SELECT count(*) AS n FROM users'),
      deleteTokens: db.prepare('DELETE FROM tokens WHERE user_name = ?'),
      deleteSessions: db.prepare('DELETE FROM sessions WHERE user_name = ?'),
      purge: db.prepare('DELETE FROM sessions WHERE expires_at <= ?'),
      list: db.prepare('SELECT u.name, u.created_at, count(t.hash) AS tokens FROM users u LEFT JOIN tokens t ON t.user_name = u.name GROUP BY u.name ORDER BY u.name')
    }
  }

  async count (): Promise<number> {
    return (this.#s.count.get() as { n: number }).n
  }

  async grantToken (user: string, token = newSecret(32)): Promise<string> {
    const now = Date.now()
    this.#db.transaction(() => {
      this.#s.addUser.run(user, now)
      this.#s.addToken.run(hashSecret(token), user, now)
    })()
    return token
  }

  async setTokens (user: string, tokens: string[]): Promise<void> {
    const now = Date.now()
    this.#db.transaction(() => {
      this.#s.addUser.run(user, now)
      this.#s.deleteTokens.run(user)
      for (const token of tokens) this.#s.addToken.run(hashSecret(token), user, now)
    })()
  }

  async revoke (user: string): Promise<number> {
    return this.#db.transaction(() => {
      this.#s.deleteSessions.run(user)
      return this.#s.deleteTokens.run(user).changes
    })()
  }

  async listUsers (): Promise<UserSummary[]> {
    return (this.#s.list.all() as Array<{ name: string, created_at: number, tokens: number }>).map((r) => ({ name: r.name, tokens: r.tokens, createdAt: r.created_at }))
  }

  async userForToken (token: string): Promise<string | undefined> {
    return (this.#s.userByToken.get(hashSecret(token)) as { user_name: string } | undefined)?.user_name
  }

  async createSession (user: string, ttlMs: number): Promise<string> {
    const id = newSecret(32)
    this.#s.addSession.run(hashSecret(id), user, Date.now() + ttlMs)
    return id
  }

  async userForSession (sessionId: string): Promise<string | undefined> {
    return (this.#s.userBySession.get(hashSecret(sessionId), Date.now()) as { user_name: string } | undefined)?.user_name
  }

  async deleteSession (sessionId: string): Promise<void> {
    this.#s.deleteSession.run(hashSecret(sessionId))
  }

  async purgeSessions (now: number): Promise<number> {
    return this.#s.purge.run(now).changes
  }

  async close (): Promise<void> {}
}
