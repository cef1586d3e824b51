import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

/** GET /healthz: liveness, the store included (503 when it cannot write), and the work running on this node. */
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/healthz', {
    schema: {
      summary: 'Liveness: the store can write, and the work running on this node',
      response: {
        200: Type.Object({ status: Type.Literal('ok'), running: Type.Integer(), store: Type.Object({ ok: Type.Boolean() }) }),
        503: Type.Object({ status: Type.Literal('unhealthy'), running: Type.Integer(), store: Type.Object({ ok: Type.Boolean(), error: Type.Optional(Type.String()) }) })
      }
    }
  }, async (_request, reply) => {
    const { service } = fastify.jobcast
    const store = await service.store.health()
    const running = service.runner.running
    if (!store.ok) return await reply.code(503).send({ status: 'unhealthy' as const, running, store })
    return { status: 'ok' as const, running, store: { ok: true } }
  })
}
export default health
