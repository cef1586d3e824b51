import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ClientError } from '../../errors.ts'
import { readCookie, SESSION_COOKIE } from '../../plugins/auth.ts'
import { ErrorSchema } from '../../schemas/error.ts'

const SESSION_TTL_MS = 30 * 86_400_000

/** POST /api/session trades a token for an HttpOnly session cookie (what EventSource sends); DELETE signs out. */
const session: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/session', {
    schema: {
      body: Type.Object({ token: Type.Optional(Type.String({ minLength: 1 })) }),
      response: { 200: Type.Object({ user: Type.String() }), 401: ErrorSchema }
    },
    // A bearer-only sign-in has no body, which a body schema alone refuses ("body must be object").
    preValidation: async (request) => { request.body ??= {} }
  }, async (request, reply) => {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1]
    const token = request.body?.token ?? bearer
    const user = token === undefined ? undefined : await fastify.userStore.userForToken(token)
    if (user === undefined) throw new ClientError(401, 'UNAUTHORIZED', 'send a valid token as {"token": "..."} or as "Authorization: Bearer <token>"')
    const id = await fastify.userStore.createSession(user, SESSION_TTL_MS)
    reply.header('set-cookie', `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${SESSION_TTL_MS / 1000}`)
    return { user }
  })

  fastify.delete('/session', {
    schema: { response: { 204: Type.Null() } }
  }, async (request, reply) => {
    const id = readCookie(request.headers.cookie, SESSION_COOKIE)
    if (id !== undefined) await fastify.userStore.deleteSession(id)
    reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`)
    return await reply.code(204).send(null)
  })
}
export default session
