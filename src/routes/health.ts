import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

const Part = Type.Object({ ok: Type.Boolean(), error: Type.Optional(Type.String()), code: Type.Optional(Type.String()) })

/**
 * GET /healthz: liveness, the store included (503 when it cannot write), the event channel where it can be down
 * (a PostgreSQL LISTEN connection), and the work running on this node.
 */
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/healthz', {
    schema: {
      summary: 'Liveness: the store can write, events from every node arrive, and the work running on this node',
      response: {
        200: Type.Object({ status: Type.Literal('ok'), running: Type.Integer(), store: Part, events: Part }),
        503: Type.Object({ status: Type.Literal('unhealthy'), running: Type.Integer(), store: Part, events: Part })
      }
    }
  }, async (_request, reply) => {
    const { service } = fastify.jobcast
    const store = await service.store.health()
    const events = service.events.health?.() ?? { ok: true }
    const running = service.runner.running
    if (!store.ok || !events.ok) return await reply.code(503).send({ status: 'unhealthy' as const, running, store, events })
    return { status: 'ok' as const, running, store: { ok: true }, events: { ok: true } }
  })
}
export default health
