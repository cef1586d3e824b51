import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config.ts'
import { ClientError } from '../errors.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook that sets `request.user` or answers 401. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /** The token of the `demo` user created on a first start with no users; printed once by the server. */
    firstRunToken: string | undefined
  }
  interface FastifyRequest {
    /** The signed-in user's name (set by `authenticate`). */
    user: string
  }
}

/** Name of the browser session cookie. */
export const SESSION_COOKIE = 'jobcast_session'

/** Reads one cookie from a Cookie header. */
export function readCookie (header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq !== -1 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim())
  }
  return undefined
}

/** Users from JOBCAST_TOKENS, a `demo` user on a first start, and the bearer-or-cookie check of /api routes. */
export default fp<{ config: Config }>(async (fastify, { config }) => {
  const users = fastify.userStore
  for (const { user, token } of config.tokens) await users.grantToken(user, token)
  fastify.decorate('firstRunToken', await users.count() === 0 ? await users.grantToken('demo') : undefined)
  fastify.decorateRequest('user', '')

  fastify.decorate('authenticate', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
      const user = match === null ? undefined : await users.userForToken(match[1]!)
      if (user === undefined) throw new ClientError(401, 'UNAUTHORIZED', 'the bearer token is not valid; send "Authorization: Bearer <token>" with a token from `npm run jobcast -- token create <user>`')
      request.user = user
      return
    }
    const session = readCookie(request.headers.cookie, SESSION_COOKIE)
    const user = session === undefined ? undefined : await users.userForSession(session)
    if (user === undefined) throw new ClientError(401, 'UNAUTHORIZED', 'sign in: send "Authorization: Bearer <token>", or POST /api/session with the token to get a session cookie')
    request.user = user
  })
}, { name: 'auth', dependencies: ['job-store'] })
