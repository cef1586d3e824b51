import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { columnsOf, csvLine, resultRows } from '../../core/batch-results.ts'
import { ClientError } from '../../errors.ts'
import { BatchSchema, BatchSummarySchema } from '../../schemas/batch.ts'
import { ErrorSchema } from '../../schemas/error.ts'
import { DeliverySchema } from '../../schemas/delivery.ts'
import { checkedFields } from '../../uploads/checked-fields.ts'
import type { PartsSource, UploadPart } from '../../uploads/receive-upload.ts'

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })
const notFound = (id: string): ClientError => new ClientError(404, 'BATCH_NOT_FOUND', `you have no batch "${id}"`)

/** Batches: many files in one request, one child job each; read, list, cancel, export, and their notifications. */
const batches: FastifyPluginAsyncTypebox = async (fastify) => {
  const { service, config } = fastify.jobcast

  const owned = async (user: string, id: string): Promise<NonNullable<Awaited<ReturnType<typeof service.batches.get>>>> => {
    const batch = await service.batches.get(user, id)
    if (batch === undefined) throw notFound(id)
    return batch
  }

  fastify.post('/batches/:type', {
    schema: {
      summary: 'Start a batch: multipart/form-data with many "file" parts, an optional "input" JSON field for every file, and an optional "notify" JSON field',
      params: Type.Object({ type: Type.String({ minLength: 1, maxLength: 64 }) }),
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }),
      response: { 202: BatchSchema, 400: ErrorSchema, 404: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema, 422: ErrorSchema, 429: ErrorSchema, 503: ErrorSchema }
    }
  }, async (request, reply) => {
    if (!request.isMultipart()) throw new ClientError(415, 'MULTIPART_REQUIRED', 'a batch is sent as multipart/form-data: one "file" part per file, and optional "input" and "notify" JSON fields')
    // The JSON fields under the limits of a JSON body, as on POST /api/jobs/:type.
    const parts: PartsSource = (limits) => checkedFields(request.parts({ limits: { ...limits, fieldSize: config.maxInputBytes } }) as AsyncIterable<UploadPart>, config)
    const { batch, children, created } = await service.submitBatch(request.jobcastUser, request.params.type, parts, { idempotencyKey: request.headers['idempotency-key'] })
    if (!created) reply.header('idempotent-replayed', 'true')
    // The children as written: none has started when the answer is built.
    return await reply.code(202).header('location', service.views.batchUrl(batch.id)).send(await service.batches.view(batch, children))
  })

  fastify.get('/batches/:id', {
    schema: { summary: 'A batch of mine: the aggregate, every child, and the batch result', params: IdParams, response: { 200: BatchSchema, 404: ErrorSchema } }
  }, async (request) => await service.batches.view(await owned(request.jobcastUser, request.params.id)))

  fastify.get('/batches', {
    schema: {
      summary: 'My batches, newest first, a page at a time',
      querystring: Type.Object({
        limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
        cursor: Type.Optional(Type.String({ maxLength: 64, description: 'nextCursor of the previous page' }))
      }),
      response: { 200: Type.Object({ items: Type.Array(BatchSummarySchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }) }
    }
  }, async (request) => await service.batches.list(request.jobcastUser, { limit: request.query.limit, before: request.query.cursor }))

  fastify.post('/batches/:id/cancel', {
    schema: { summary: 'Cancel every unfinished child of a batch of mine; finished ones keep their results', params: IdParams, response: { 200: BatchSchema, 404: ErrorSchema } }
  }, async (request) => {
    const batch = await service.cancelBatch(request.jobcastUser, request.params.id)
    if (batch === undefined) throw notFound(request.params.id)
    return await service.batches.view(batch)
  })

  fastify.get('/batches/:id/results.csv', {
    schema: { summary: 'One CSV row per file: index, file, state, error code and message, and the type\'s result fields', params: IdParams, response: { 404: ErrorSchema } }
  }, async (request, reply) => {
    const batch = await owned(request.jobcastUser, request.params.id)
    const rows = resultRows(await service.batches.children(batch))
    const columns = columnsOf(rows)
    const text = csvLine(columns) + rows.map((row) => csvLine(columns.map((c) => row[c]))).join('')
    return await reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="batch-${batch.id}.csv"`).send(text as never)
  })

  fastify.get('/batches/:id/results.jsonl', {
    schema: { summary: 'One JSON line per file: index, file, state, error code and message, and the type\'s result fields', params: IdParams, response: { 404: ErrorSchema } }
  }, async (request, reply) => {
    const batch = await owned(request.jobcastUser, request.params.id)
    const rows = resultRows(await service.batches.children(batch))
    return await reply.type('application/x-ndjson; charset=utf-8').header('content-disposition', `attachment; filename="batch-${batch.id}.jsonl"`)
      .send((rows.map((row) => JSON.stringify(row)).join('\n') + '\n') as never)
  })

  fastify.get('/batches/:id/deliveries', {
    schema: { summary: 'The notifications of a batch of mine, with every attempt', params: IdParams, response: { 200: Type.Array(DeliverySchema), 404: ErrorSchema } }
  }, async (request) => {
    const batch = await owned(request.jobcastUser, request.params.id)
    return await service.batches.deliveries(batch.id)
  })
}
export default batches
