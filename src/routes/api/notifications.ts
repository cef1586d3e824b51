import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ClientError } from '../../errors.ts'
import { DeliverySchema, NotifyTargetsSchema } from '../../schemas/delivery.ts'
import { ErrorSchema } from '../../schemas/error.ts'

/** A job's notifications, and the signed-in user's webhook secret and default notify targets. */
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

  fastify.get('/notify-defaults', {
    schema: {
      summary: 'Where I am told that a job or batch of mine ended when its start has no "notify" ({}: nowhere)',
      response: { 200: NotifyTargetsSchema }
    }
  }, async (request) => await service.notifyDefaults(request.jobcastUser) ?? {})

  fastify.put('/notify-defaults', {
    schema: {
      summary: 'Set my default notify targets: {"webhook": "https://…", "email": "me@example.com"}, checked as a start\'s "notify"; {} clears them',
      body: Type.Unknown({ description: 'as a start\'s "notify": webhook and/or email' }),
      response: { 200: NotifyTargetsSchema, 400: ErrorSchema, 422: ErrorSchema }
    }
  }, async (request) => await service.setNotifyDefaults(request.jobcastUser, request.body ?? {}) ?? {})

  fastify.delete('/notify-defaults', {
    schema: { summary: 'Clear my default notify targets', response: { 204: Type.Null() } }
  }, async (request, reply) => {
    await service.setNotifyDefaults(request.jobcastUser, null)
    return await reply.code(204).send(null)
  })
}
export default notifications
