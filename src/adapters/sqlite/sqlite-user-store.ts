import { createHash } from 'node:crypto'
import type { Statement } from 'better-sqlite3'
import type { Db } from './database.ts'
import { newSecret } from '../../lib/ids.ts'

/** SHA-256 of a secret, hex: tokens and session ids are stored only this way. */
export function hashSecret (secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** Users, their API tokens and their browser sessions; secrets are kept hashed. */
export class UserStore {
  readonly #db: Db
  readonly #addUser: Statement
  readonly #addToken: Statement
  readonly #userByToken: Statement
  readonly #userBySession: Statement
  readonly #addSession: Statement
  readonly #deleteSession: Statement
  readonly #count: Statement

  constructor (db: Db) {
    this.#db = db
    this.#addUser = db.prepare('INSERT INTO users (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING')
    this.#addToken = db.prepare('INSERT INTO tokens (hash, user_name, created_at) VALUES (?, ?, ?) ON CONFLICT (hash) DO UPDATE SET user_name = excluded.user_name')
    this.#userByToken = db.prepare('SELECT user_name FROM tokens WHERE hash = ?')
    this.#userBySession = db.prepare('SELECT user_name FROM sessions WHERE hash = ? AND expires_at > ?')
    this.#addSession = db.prepare('INSERT INTO sessions (hash, user_name, expires_at) VALUES (?, ?, ?)')
    this.#deleteSession = db.prepare('DELETE FROM sessions WHERE hash = ?')
    this.#count = db.prepare('SELECT count(*) AS n FROM users')
  }

  /** Number of users. */
  count (): number {
    return (this.#count.get() as { n: number }).n
  }

  /** Gives `user` (created if new) the given token, or a new one; returns the token in clear, the only time it exists so. */
  grantToken (user: string, token = newSecret()): string {
    const now = Date.now()
    this.#db.transaction(() => {
      this.#addUser.run(user, now)
      this.#addToken.run(hashSecret(token), user, now)
    })()
    return token
  }

  /** The user a bearer token belongs to. */
  userForToken (token: string): string | undefined {
    return (this.#userByToken.get(hashSecret(token)) as { user_name: string } | undefined)?.user_name
  }

  /** Opens a browser session for `user`; returns the session id for the cookie. */
  createSession (user: string, ttlMs: number): string {
    const id = newSecret(32)
    this.#addSession.run(hashSecret(id), user, Date.now() + ttlMs)
    return id
  }

  /** The user of a live session. */
  userForSession (sessionId: string): string | undefined {
    return (this.#userBySession.get(hashSecret(sessionId), Date.now()) as { user_name: string } | undefined)?.user_name
  }

  /** Ends a session. */
  deleteSession (sessionId: string): void {
    this.#deleteSession.run(hashSecret(sessionId))
  }
}
