import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ClientError } from '../../errors.ts'
import { DeliverySchema } from '../../schemas/delivery.ts'
import { ErrorSchema } from '../../schemas/error.ts'

/** A job's notifications, and the signed-in user's webhook secret. */
const notifications: FastifyPluginAsyncTypebox = async (fastify) => {
  const { service } = fastify.jobcast

  fastify.get('/jobs/:id/deliveries', {
    schema: { summary: 'The notifications of a job of mine, with every attempt', params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }), response: { 200: Type.Array(DeliverySchema), 404: ErrorSchema } }
  }, async (request) => {
    const job = await service.queries.get(request.jobcastUser, request.params.id)
    if (job === undefined) throw new ClientError(404, 'JOB_NOT_FOUND', `you have no job "${request.params.id}"`)
    return await service.batches.deliveries(job.id)
  })

  fastify.post('/webhook-secret', {
    schema: {
      summary: 'Rotate my webhook signing secret (whsec_…); webhooks are signed with the new one from now on',
      response: { 200: Type.Object({ secret: Type.String() }) }
    }
  }, async (request) => ({ secret: await service.store.rotateWebhookSecret(request.jobcastUser) }))
}
export default notifications
