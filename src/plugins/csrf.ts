import type { FastifyRequest } from 'fastify'
import { ClientError } from '../errors.ts'
import { readCookie, SESSION_COOKIE } from './auth.ts'

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Whether an unsafe request riding on the session cookie came from a page of this origin: `Sec-Fetch-Site` says so,
 * or else `Origin` names this host. A browser sends one of them on every POST and DELETE; a request with neither
 * is not from a browser page and has no business relying on the cookie.
 */
export function sameOrigin (request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site']
  if (typeof site === 'string') return site === 'same-origin' || site === 'none'
  const origin = request.headers.origin
  if (typeof origin !== 'string') return false
  // Through URL, so that a default port written or not (":80") compares equal.
  try {
    return new URL(origin).origin === new URL(`${request.protocol}://${request.host}`).origin
  } catch {
    return false
  }
}

/**
 * Refuses (403 CROSS_SITE_REQUEST) an unsafe request that jobcast's session cookie authenticated when it does not
 * come from the same origin. A request with an Authorization header is not affected: a cross-site page cannot make
 * a browser send one.
 */
export function checkSameOrigin (request: FastifyRequest): void {
  if (SAFE_METHODS.has(request.method) || request.headers.authorization !== undefined) return
  if (readCookie(request.headers.cookie, SESSION_COOKIE) === undefined) return
  if (!sameOrigin(request)) {
    throw new ClientError(403, 'CROSS_SITE_REQUEST', 'a request signed in by the session cookie must come from a page of this site (Origin or Sec-Fetch-Site); scripts send "Authorization: Bearer <token>" instead')
  }
}
