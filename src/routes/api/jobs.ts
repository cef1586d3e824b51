import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ClientError } from '../../errors.ts'
import { RATE_WINDOW_MS } from '../../plugins/rate-limits.ts'
import { ErrorSchema } from '../../schemas/error.ts'
import { JobSchema, JobSummarySchema } from '../../schemas/job.ts'
import { checkedFields } from '../../uploads/checked-fields.ts'
import type { PartsSource, UploadPart } from '../../uploads/receive-upload.ts'

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })
const notFound = (id: string): ClientError => new ClientError(404, 'JOB_NOT_FOUND', `you have no job "${id}"`)

/** Starting, reading, listing and canceling jobs, and downloading their artifacts. Thin: the engine decides. */
const jobs: FastifyPluginAsyncTypebox = async (fastify) => {
  const engine = fastify.jobcast

  fastify.post('/jobs/:type', {
    schema: {
      summary: 'Start a job: JSON input, or multipart/form-data with files and an "input" JSON field',
      params: Type.Object({ type: Type.String({ minLength: 1, maxLength: 64 }) }),
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }),
      body: Type.Unknown({ description: 'the job input, as the type\'s schema says (or multipart: file parts plus an "input" JSON field)' }),
      response: { 202: JobSchema, 400: ErrorSchema, 404: ErrorSchema, 408: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema, 422: ErrorSchema, 429: ErrorSchema, 503: ErrorSchema, 507: ErrorSchema }
    },
    // Per user: after the authenticate hook, so the key is who starts, not where from.
    config: { rateLimit: { max: engine.config.rateStarts, timeWindow: RATE_WINDOW_MS, hook: 'preHandler', keyGenerator: (request) => request.jobcastUser } }
  }, async (request, reply) => {
    const { type } = request.params
    const options = { idempotencyKey: request.headers['idempotency-key'] }
    // `notify` travels beside the input (a JSON body field or a multipart field), never inside it.
    const { notify, input } = splitNotify(request.body ?? {})
    const { job, created } = request.isMultipart()
      ? await engine.service.submitUpload(request.jobcastUser, type, ((limits) => checkedFields(request.parts({ limits: { ...limits, fieldSize: engine.config.maxInputBytes } }) as AsyncIterable<UploadPart>, engine.config)) satisfies PartsSource, options)
      : await engine.service.submit(request.jobcastUser, type, input, { ...options, notify })
    if (!created) reply.header('idempotent-replayed', 'true')
    return await reply.code(202).header('location', engine.service.views.jobUrl(job.id)).send(await engine.service.queries.viewOf(job))
  })

  fastify.get('/jobs/:id', {
    schema: { summary: 'A job of mine (ETag / If-None-Match → 304)', params: IdParams, response: { 200: JobSchema, 304: Type.Null(), 404: ErrorSchema } }
  }, async (request, reply) => {
    const view = await engine.service.queries.viewJson(request.jobcastUser, request.params.id)
    if (view === undefined) throw notFound(request.params.id)
    // The ETag is a hash of the exact body, so a poller of an unchanged job gets a bodiless 304.
    reply.header('etag', view.etag).header('cache-control', 'no-cache')
    if (request.headers['if-none-match'] === view.etag) return await reply.code(304).send(null)
    // Bytes with a JSON content type are sent as they are, not serialized again.
    return await reply.type('application/json; charset=utf-8').send(view.json as never)
  })

  fastify.get('/jobs', {
    schema: {
      summary: 'My jobs, newest first, a page at a time',
      querystring: Type.Object({
        state: Type.Optional(Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('completed'), Type.Literal('failed'), Type.Literal('canceled')])),
        type: Type.Optional(Type.String({ maxLength: 64 })),
        batch: Type.Optional(Type.String({ maxLength: 64 })),
        limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
        cursor: Type.Optional(Type.String({ maxLength: 64, description: 'nextCursor of the previous page' }))
      }),
      response: { 200: Type.Object({ items: Type.Array(JobSummarySchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }) }
    }
  }, async (request) => {
    const { state, type, batch, limit, cursor } = request.query
    return await engine.list(request.jobcastUser, { state, type, batchId: batch, before: cursor, limit })
  })

  fastify.post('/jobs/:id/cancel', {
    schema: {
      summary: 'Cancel a queued or running job of mine',
      description: '200 with the canceled job once it has stopped; 202 with the job still running when the node running it does not answer: the cancel is recorded and the job ends canceled when that node\'s lease runs out.',
      params: IdParams,
      response: { 200: JobSchema, 202: JobSchema, 404: ErrorSchema, 409: ErrorSchema }
    }
  }, async (request, reply) => {
    const job = await engine.cancel(request.jobcastUser, request.params.id)
    if (job === undefined) throw notFound(request.params.id)
    if (job.state === 'completed' || job.state === 'failed') throw new ClientError(409, 'JOB_FINISHED', `job ${job.id} already ${job.state}; there is nothing to cancel`)
    if (job.state !== 'canceled') reply.code(202)
    return await engine.service.queries.viewOf(job)
  })

  fastify.get('/jobs/:id/artifacts/:name', {
    schema: {
      summary: 'Download a file a job of mine produced',
      params: Type.Object({ id: Type.String({ maxLength: 64 }), name: Type.String({ maxLength: 128 }) }),
      response: { 404: ErrorSchema }
    }
  }, async (request, reply) => {
    const { artifact, stream } = await engine.service.queries.artifact(request.jobcastUser, request.params.id, request.params.name)
    return await reply
      .type(artifact.contentType)
      .header('content-length', artifact.size)
      .header('content-disposition', `attachment; filename="${artifact.name}"`)
      .send(stream as never)
  })
}
export default jobs

// A JSON start's `notify` field, taken out of its input.
function splitNotify (body: unknown): { notify: unknown, input: unknown } {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !('notify' in body)) return { notify: undefined, input: body }
  const { notify, ...input } = body as Record<string, unknown>
  return { notify, input }
}
