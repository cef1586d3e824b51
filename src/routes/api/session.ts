import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { ClientError } from '../../errors.ts'
import { bearerToken, readCookie, SESSION_COOKIE } from '../../plugins/auth.ts'
import { checkSameOrigin } from '../../plugins/csrf.ts'
import { RATE_WINDOW_MS, rateLimited, type AuthFailureLimiter } from '../../plugins/rate-limits.ts'
import { ErrorSchema } from '../../schemas/error.ts'

/** How long a browser session lasts. */
export const SESSION_TTL_MS = 30 * 86_400_000

// The cookie is scoped to where jobcast is mounted; Secure whenever the browser reached us over HTTPS.
function cookieAttributes (request: FastifyRequest, { prefix, config }: { prefix: string, config: { cookieSecure: boolean } }): string {
  return `Path=${prefix}/; HttpOnly; SameSite=Lax${config.cookieSecure || request.protocol === 'https' ? '; Secure' : ''}`
}

/** The Set-Cookie value of a new session. */
export function sessionCookie (id: string, request: FastifyRequest, where: { prefix: string, config: { cookieSecure: boolean } }): string {
  return `${SESSION_COOKIE}=${id}; ${cookieAttributes(request, where)}; Max-Age=${SESSION_TTL_MS / 1000}`
}

/** POST /api/session trades a token for an HttpOnly session cookie (what EventSource sends); DELETE signs out. */
const session: FastifyPluginAsyncTypebox<{ authFailures: AuthFailureLimiter }> = async (fastify, { authFailures }) => {
  const { users: maybeUsers, config } = fastify.jobcast
  const users = maybeUsers!

  fastify.post('/session', {
    schema: {
      summary: 'Sign in: trade a token for a session cookie',
      body: Type.Object({ token: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })) }),
      response: { 200: Type.Object({ user: Type.String() }), 401: ErrorSchema, 429: ErrorSchema }
    },
    config: { rateLimit: { max: config.rateSessions, timeWindow: RATE_WINDOW_MS } },
    // A bearer-only sign-in has no body, which a body schema alone refuses ("body must be object").
    preValidation: async (request) => { request.body ??= {} }
  }, async (request, reply) => {
    const waitS = await authFailures.blocked(request)
    if (waitS !== undefined) throw rateLimited('failed sign-ins from this address', waitS)
    const token = request.body?.token ?? bearerToken(request)
    const user = token === undefined ? undefined : await users.userForToken(token)
    if (user === undefined) {
      await authFailures.failed(request)
      throw new ClientError(401, 'UNAUTHORIZED', 'send a valid token as {"token": "..."} or as "Authorization: Bearer <token>"')
    }
    const id = await users.createSession(user, SESSION_TTL_MS)
    reply.header('set-cookie', sessionCookie(id, request, fastify.jobcast))
    return { user }
  })

  fastify.delete('/session', {
    schema: { summary: 'Sign out', response: { 204: Type.Null() } }
  }, async (request, reply) => {
    checkSameOrigin(request)
    const id = readCookie(request.headers.cookie, SESSION_COOKIE)
    if (id !== undefined) await users.deleteSession(id)
    reply.header('set-cookie', `${SESSION_COOKIE}=; ${cookieAttributes(request, fastify.jobcast)}; Max-Age=0`)
    return await reply.code(204).send(null)
  })
}
export default session
