import type { FastifyInstance, FastifyRequest } from 'fastify'
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
  return origin === `${request.protocol}://${request.host}`
}

/**
 * Refuses (403 CROSS_SITE_REQUEST) unsafe requests that would be authenticated by jobcast's session cookie and do
 * not come from the same origin. Requests with an Authorization header are not affected: a cross-site page cannot
 * make a browser send one.
 */
export function refuseCrossSite (scope: FastifyInstance): void {
  scope.addHook('onRequest', async (request) => {
    if (SAFE_METHODS.has(request.method) || request.headers.authorization !== undefined) return
    if (readCookie(request.headers.cookie, SESSION_COOKIE) === undefined) return
    if (!sameOrigin(request)) {
      throw new ClientError(403, 'CROSS_SITE_REQUEST', 'a request signed in by the session cookie must come from a page of this site (Origin or Sec-Fetch-Site); scripts send "Authorization: Bearer <token>" instead')
    }
  })
}
