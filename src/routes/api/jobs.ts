import { createReadStream } from 'node:fs'
import { createHash } from 'node:crypto'
import { rm } from 'node:fs/promises'
import fastifyMultipart from '@fastify/multipart'
import { join } from 'node:path'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ClientError } from '../../errors.ts'
import { artifactsDir, jobDir } from '../../core/job-files.ts'
import { newId } from '../../lib/ids.ts'
import { receiveUpload } from '../../uploads/receive-upload.ts'
import { ErrorSchema } from '../../schemas/error.ts'
import { JobSchema, toJobView } from '../../schemas/job.ts'
import { TERMINAL_STATES, type JobRecord } from '../../adapters/sqlite/types.ts'

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })
const notFound = (id: string): ClientError => new ClientError(404, 'JOB_NOT_FOUND', `you have no job "${id}"`)

/** Starting, reading, listing and canceling jobs, and downloading their artifacts. */
const jobs: FastifyPluginAsyncTypebox = async (fastify) => {
  const view = (job: JobRecord): ReturnType<typeof toJobView> =>
    toJobView(job, TERMINAL_STATES.has(job.state) ? fastify.jobStore.artifacts(job.id) : [])

  // Multipart starts are streamed by receiveUpload; its limits are set per job type there.
  await fastify.register(fastifyMultipart)

  fastify.post('/jobs/:type', {
    schema: {
      params: Type.Object({ type: Type.String({ minLength: 1, maxLength: 64 }) }),
      headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }),
      body: Type.Unknown({ description: 'the job input, as the type\'s schema says' }),
      response: { 202: JobSchema, 400: ErrorSchema, 404: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema, 422: ErrorSchema, 429: ErrorSchema }
    }
  }, async (request, reply) => {
    const { type } = request.params
    const idempotencyKey = request.headers['idempotency-key']
    const options = idempotencyKey === undefined ? {} : { idempotencyKey }
    let started
    if (request.isMultipart()) {
      const spec = fastify.jobTypes.require(type).files
      if (spec === undefined) throw new ClientError(400, 'FILES_NOT_ACCEPTED', `job type "${type}" takes no files; send its input as JSON`)
      // Files go under the job's own folder, so the id is chosen before the job exists; it is queued only once they are complete.
      const id = newId()
      const dir = jobDir(fastify.filesDir, id)
      const upload = await receiveUpload(request, type, spec, dir)
      try {
        started = await fastify.jobs.submit(request.user, type, upload.input, { ...options, id, files: upload.files })
      } catch (err) {
        await rm(dir, { recursive: true, force: true })
        throw err
      }
      if (!started.created) await rm(dir, { recursive: true, force: true })
    } else {
      started = await fastify.jobs.submit(request.user, type, request.body ?? {}, options)
    }
    const { job, created } = started
    if (!created) reply.header('idempotent-replayed', 'true')
    return await reply.code(202).header('location', `/api/jobs/${job.id}`).send(view(job))
  })

  fastify.get('/jobs/:id', {
    schema: { params: IdParams, response: { 200: JobSchema, 304: Type.Null(), 404: ErrorSchema } }
  }, async (request, reply) => {
    const job = fastify.jobs.get(request.user, request.params.id)
    if (job === undefined) throw notFound(request.params.id)
    // The ETag is a hash of the exact body, so a poller of an unchanged job gets a bodiless 304.
    const body = JSON.stringify(view(job))
    const etag = `"${createHash('sha1').update(body).digest('base64url')}"`
    reply.header('etag', etag).header('cache-control', 'no-cache')
    if (request.headers['if-none-match'] === etag) return await reply.code(304).send(null)
    // A string with a JSON content type is sent as it is, not serialized again.
    return await reply.type('application/json; charset=utf-8').send(body as never)
  })

  fastify.get('/jobs', {
    schema: {
      querystring: Type.Object({
        state: Type.Optional(Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('completed'), Type.Literal('failed'), Type.Literal('canceled')])),
        type: Type.Optional(Type.String({ maxLength: 64 })),
        batch: Type.Optional(Type.String({ maxLength: 64 })),
        limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
        cursor: Type.Optional(Type.String({ maxLength: 64, description: 'nextCursor of the previous page' }))
      }),
      response: { 200: Type.Object({ items: Type.Array(JobSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }) }
    }
  }, async (request) => {
    const { state, type, batch, limit, cursor } = request.query
    const items = fastify.jobs.list(request.user, { state, type, batchId: batch, before: cursor, limit: limit + 1 })
    const page = items.slice(0, limit)
    return { items: page.map(view), nextCursor: items.length > limit ? page[page.length - 1]!.id : null }
  })

  fastify.post('/jobs/:id/cancel', {
    schema: { params: IdParams, response: { 200: JobSchema, 404: ErrorSchema, 409: ErrorSchema } }
  }, async (request) => {
    const job = await fastify.jobs.cancel(request.user, request.params.id)
    if (job === undefined) throw notFound(request.params.id)
    if (job.state === 'completed' || job.state === 'failed') throw new ClientError(409, 'JOB_FINISHED', `job ${job.id} already ${job.state}; there is nothing to cancel`)
    return view(job)
  })

  fastify.get('/jobs/:id/artifacts/:name', {
    schema: { params: Type.Object({ id: Type.String({ maxLength: 64 }), name: Type.String({ maxLength: 128 }) }), response: { 404: ErrorSchema } }
  }, async (request, reply) => {
    const { id, name } = request.params
    if (fastify.jobs.get(request.user, id) === undefined) throw notFound(id)
    const artifact = fastify.jobStore.artifacts(id).find((a) => a.name === name)
    if (artifact === undefined) throw new ClientError(404, 'ARTIFACT_NOT_FOUND', `job ${id} has no artifact "${name}"`)
    return await reply
      .type(artifact.contentType)
      .header('content-length', artifact.size)
      .header('content-disposition', `attachment; filename="${artifact.name}"`)
      .send(createReadStream(join(artifactsDir(fastify.filesDir, id), artifact.name)) as never)
  })
}
export default jobs
