import { createHash } from 'node:crypto'
import type { Statement } from 'better-sqlite3'
import { openDatabase, type Db } from './database.ts'
import { ClientError } from '../../errors.ts'
import { newSecret } from '../../lib/ids.ts'
import type { UserStore, UserSummary } from '../../ports/user-store.ts'

/** Fewest characters of a token: a shorter one is guessable, and is refused. */
export const MIN_TOKEN_LENGTH = 16

/** Random bytes of a generated token (43 base64url characters). */
const TOKEN_BYTES = 32

/** SHA-256 of a secret, hex: tokens and session ids are stored only this way. */
export function hashSecret (secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** Throws a TOKEN_TOO_SHORT error unless `token` is long enough to be a secret. */
export function assertTokenLength (token: string): void {
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new ClientError(400, 'TOKEN_TOO_SHORT', `a token needs ${MIN_TOKEN_LENGTH} or more characters (this one has ${token.length}); leave it out to get a random one`)
  }
}

/** The UserStore port on the SQLite file of the data folder: users, hashed tokens, hashed sessions with expiry. */
export class SqliteUserStore implements UserStore {
  readonly #db: Db
  readonly #ownsDb: boolean
  readonly #addUser: Statement
  readonly #addToken: Statement
  readonly #tokensOf: Statement
  readonly #deleteToken: Statement
  readonly #deleteTokensOf: Statement
  readonly #deleteSessionsOf: Statement
  readonly #userByToken: Statement
  readonly #userBySession: Statement
  readonly #addSession: Statement
  readonly #deleteSession: Statement
  readonly #purgeSessions: Statement
  readonly #count: Statement
  readonly #list: Statement
  #closed = false

  /** Uses `db` (shared with the job store, which closes it) unless `ownsDb`, when `close()` closes it. */
  constructor (db: Db, { ownsDb = false }: { ownsDb?: boolean } = {}) {
    this.#db = db
    this.#ownsDb = ownsDb
    this.#addUser = db.prepare('INSERT INTO users (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING')
    this.#addToken = db.prepare('INSERT INTO tokens (hash, user_name, created_at) VALUES (?, ?, ?) ON CONFLICT (hash) DO UPDATE SET user_name = excluded.user_name')
    this.#tokensOf = db.prepare('SELECT hash FROM tokens WHERE user_name = ?').pluck()
    this.#deleteToken = db.prepare('DELETE FROM tokens WHERE hash = ?')
    this.#deleteTokensOf = db.prepare('DELETE FROM tokens WHERE user_name = ?')
    this.#deleteSessionsOf = db.prepare('DELETE FROM sessions WHERE user_name = ?')
    this.#userByToken = db.prepare('SELECT user_name FROM tokens WHERE hash = ?').pluck()
    this.#userBySession = db.prepare('SELECT user_name FROM sessions WHERE hash = ? AND expires_at > ?').pluck()
    this.#addSession = db.prepare('INSERT INTO sessions (hash, user_name, expires_at) VALUES (?, ?, ?)')
    this.#deleteSession = db.prepare('DELETE FROM sessions WHERE hash = ?')
    this.#purgeSessions = db.prepare('DELETE FROM sessions WHERE expires_at <= ?')
    this.#count = db.prepare('SELECT count(*) FROM users').pluck()
    this.#list = db.prepare(`
      SELECT users.name AS name, count(tokens.hash) AS tokens, users.created_at AS createdAt
      FROM users LEFT JOIN tokens ON tokens.user_name = users.name
      GROUP BY users.name ORDER BY users.name`)
  }

  /** Opens the data folder's SQLite file for the users alone (the CLI's case); `close()` closes it. */
  static open (dataDir: string): SqliteUserStore {
    return new SqliteUserStore(openDatabase(dataDir), { ownsDb: true })
  }

  /** Number of users. */
  async count (): Promise<number> {
    return this.#count.get() as number
  }

  /** Gives `user` (created if new) the token, or a new random one; resolves with the token in clear, the only time it exists so. */
  async grantToken (user: string, token = newSecret(TOKEN_BYTES)): Promise<string> {
    assertTokenLength(token)
    const now = Date.now()
    this.#db.transaction(() => {
      this.#addUser.run(user, now)
      this.#addToken.run(hashSecret(token), user, now)
    })()
    return token
  }

  /** Makes `tokens` the whole set of `user`'s tokens: one left out of the set stops working. */
  async setTokens (user: string, tokens: string[]): Promise<void> {
    for (const token of tokens) assertTokenLength(token)
    const wanted = new Set(tokens.map(hashSecret))
    const now = Date.now()
    this.#db.transaction(() => {
      this.#addUser.run(user, now)
      for (const hash of this.#tokensOf.all(user) as string[]) {
        if (!wanted.has(hash)) this.#deleteToken.run(hash)
      }
      for (const hash of wanted) this.#addToken.run(hash, user, now)
    })()
  }

  /** Revokes every token and session of `user` (the user and its jobs stay); resolves with the tokens revoked. */
  async revoke (user: string): Promise<number> {
    return this.#db.transaction(() => {
      this.#deleteSessionsOf.run(user)
      return this.#deleteTokensOf.run(user).changes
    })()
  }

  /** Every user with its number of tokens, by name. */
  async listUsers (): Promise<UserSummary[]> {
    return this.#list.all() as UserSummary[]
  }

  /** The user a bearer token belongs to; read from the file on every call, so a revoke elsewhere counts at once. */
  async userForToken (token: string): Promise<string | undefined> {
    return this.#userByToken.get(hashSecret(token)) as string | undefined
  }

  /** Opens a browser session for `user`; resolves with the session id for the cookie. */
  async createSession (user: string, ttlMs: number): Promise<string> {
    const id = newSecret(TOKEN_BYTES)
    this.#addSession.run(hashSecret(id), user, Date.now() + ttlMs)
    return id
  }

  /** The user of a live (unexpired) session. */
  async userForSession (sessionId: string): Promise<string | undefined> {
    return this.#userBySession.get(hashSecret(sessionId), Date.now()) as string | undefined
  }

  /** Ends a session. */
  async deleteSession (sessionId: string): Promise<void> {
    this.#deleteSession.run(hashSecret(sessionId))
  }

  /** Deletes the sessions expired at `now`; resolves with how many. */
  async purgeSessions (now: number): Promise<number> {
    return this.#purgeSessions.run(now).changes
  }

  /** Closes the database if this store opened it; safe to call twice. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#ownsDb) this.#db.close()
  }
}
