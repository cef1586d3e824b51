import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ClientError } from '../../errors.ts'
import { readCookie, SESSION_COOKIE } from '../../plugins/auth.ts'
import { ErrorSchema } from '../../schemas/error.ts'
import { sessionCookie, SESSION_TTL_MS } from './session.ts'

/**
 * POST /api/token: a signed-in user rotates their own token. Every token and session of theirs ends at once (a
 * leaked token may have opened sessions too) and one new token is answered, the only time it is shown; a browser
 * that rotated by its cookie gets a fresh session with it.
 */
const token: FastifyPluginAsyncTypebox = async (fastify) => {
  const { users: maybeUsers, config } = fastify.jobcast
  const users = maybeUsers!
  // Tokens set by JOBCAST_TOKENS come back at the next start: rotating one here would look done and not be.
  const configured = new Set(config.tokens.map((t) => t.user))

  fastify.post('/token', {
    schema: {
      summary: 'Rotate my token: every token and session of mine stops at once; the new token is shown this once',
      response: { 200: Type.Object({ user: Type.String(), token: Type.String() }), 409: ErrorSchema }
    }
  }, async (request, reply) => {
    const user = request.jobcastUser
    if (configured.has(user)) {
      throw new ClientError(409, 'TOKEN_CONFIGURED', `the tokens of "${user}" are set by the server's configuration (JOBCAST_TOKENS) and come back at its next start; ask its operator to change them there`)
    }
    await users.revoke(user)
    const fresh = await users.grantToken(user)
    if (request.headers.authorization === undefined && readCookie(request.headers.cookie, SESSION_COOKIE) !== undefined) {
      reply.header('set-cookie', sessionCookie(await users.createSession(user, SESSION_TTL_MS), request, fastify.jobcast))
    }
    reply.header('cache-control', 'no-store')
    return { user, token: fresh }
  })
}
export default token
