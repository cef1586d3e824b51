/** A user as listed by `jobcast token list`. */
export interface UserSummary {
  name: string
  tokens: number
  createdAt: number
}

/** Users, their API tokens and their browser sessions. Secrets are kept hashed; a token exists in clear only when granted. */
export interface UserStore {
  /** Number of users. */
  count (): Promise<number>
  /** Gives `user` (created if new) the token, or a new random one; resolves with the token in clear. */
  grantToken (user: string, token?: string): Promise<string>
  /** Makes `tokens` the whole set of `user`'s tokens (the configured ones: a removed or rotated token stops working). */
  setTokens (user: string, tokens: string[]): Promise<void>
  /** Revokes every token and session of `user`; resolves with the number of tokens revoked. Takes effect at once. */
  revoke (user: string): Promise<number>
  listUsers (): Promise<UserSummary[]>
  /** The user a bearer token belongs to. */
  userForToken (token: string): Promise<string | undefined>
  /** Opens a browser session for `user`; resolves with the session id for the cookie. */
  createSession (user: string, ttlMs: number): Promise<string>
  /** The user of a live (unexpired) session. */
  userForSession (sessionId: string): Promise<string | undefined>
  deleteSession (sessionId: string): Promise<void>
  /** Deletes expired sessions; resolves with how many. */
  purgeSessions (now: number): Promise<number>
  /** Safe to call twice. */
  close (): Promise<void>
}
