import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

const JobTypeSchema = Type.Object({
  type: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  input: Type.Unknown({ description: 'JSON Schema of the input' }),
  files: Type.Union([Type.Object({ min: Type.Integer(), max: Type.Integer(), maxBytes: Type.Integer(), accept: Type.Array(Type.String()) }), Type.Null()]),
  concurrency: Type.Union([Type.Integer(), Type.Null()]),
  maxAttempts: Type.Integer(),
  timeoutMs: Type.Union([Type.Integer(), Type.Null()])
})

/** GET /api/job-types: what can be started, with input schemas and upload limits. */
const jobTypes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/job-types', {
    schema: { summary: 'The job types this server runs, with their input schemas and upload limits', response: { 200: Type.Array(JobTypeSchema) } }
  }, async () => fastify.jobcast.service.registry.list().map((d) => ({
    type: d.type,
    description: d.description ?? null,
    input: d.input,
    files: d.files === undefined ? null : { min: d.files.min ?? 1, max: d.files.max ?? 1, maxBytes: d.files.maxBytes, accept: d.files.accept ?? [] },
    concurrency: d.concurrency ?? null,
    maxAttempts: d.retry?.attempts ?? 1,
    timeoutMs: d.timeoutMs ?? null
  })))
}
export default jobTypes
