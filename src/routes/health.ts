import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

/** GET /healthz: liveness, with the work in hand. */
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/healthz', {
    schema: {
      response: { 200: Type.Object({ status: Type.Literal('ok'), running: Type.Integer(), queued: Type.Integer() }) }
    }
  }, async () => ({ status: 'ok' as const, ...fastify.jobs.stats }))
}
export default health
