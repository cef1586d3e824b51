import type { FastifyRequest } from 'fastify'
import { ClientError } from '../errors.ts'
import type { Authenticate } from '../ports/authenticate.ts'
import type { UserStore } from '../ports/user-store.ts'

/** Name of the browser session cookie. */
export const SESSION_COOKIE = 'jobcast_session'

/** Reads one cookie from a Cookie header; a value that does not decode is no cookie. */
export function readCookie (header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue
    try {
      return decodeURIComponent(part.slice(eq + 1).trim())
    } catch {
      return undefined
    }
  }
  return undefined
}

/** The bearer token of a request, if it sent one. */
export function bearerToken (request: FastifyRequest): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1]
}

/**
 * jobcast's own {@link Authenticate}: `Authorization: Bearer <token>`, else the session cookie. A bearer header that
 * is not valid is a 401 even when a cookie is present (it says what is wrong rather than falling back).
 */
export function tokenAuthenticate (users: UserStore): Authenticate {
  return async (request: FastifyRequest) => {
    if (request.headers.authorization !== undefined) {
      const token = bearerToken(request)
      const user = token === undefined ? undefined : await users.userForToken(token)
      if (user === undefined) throw new ClientError(401, 'UNAUTHORIZED', 'the bearer token is not valid; send "Authorization: Bearer <token>" with a token from `jobcast token create <user>`')
      return user
    }
    const session = readCookie(request.headers.cookie, SESSION_COOKIE)
    return session === undefined ? undefined : await users.userForSession(session)
  }
}
