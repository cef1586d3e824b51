import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance } from 'fastify'
import { ClientError, JobcastError } from '../errors.ts'

/** jobcast's one error handler, set on its own (encapsulated) routes: 4xx say what to fix, 5xx are logged and hidden. */
export function setErrorHandler (fastify: FastifyInstance): void {
  fastify.setErrorHandler((err: FastifyError | JobcastError, request, reply) => {
    const statusCode = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    if (err instanceof ClientError) reply.headers(err.headers)
    if (statusCode === 503 && err instanceof JobcastError) {
      // Unavailable for now (the database restarting, a node shutting down): said plainly, with its code, to retry.
      request.log.warn({ err }, 'request refused: unavailable')
      return reply.code(503).header('retry-after', '1').send({ statusCode, code: err.code, error: STATUS_CODES[503], message: err.message })
    }
    if (statusCode >= 500) {
      request.log.error({ err }, 'request failed')
      return reply.code(statusCode).send({ statusCode, code: 'INTERNAL_ERROR', error: STATUS_CODES[statusCode] ?? 'Error', message: 'something went wrong on our side; it was logged' })
    }
    // Fastify's own validation errors name the field ("body/seconds must be number"); keep that, with a stable code.
    const code = (err as FastifyError).validation !== undefined ? 'INVALID_REQUEST' : err.code ?? 'BAD_REQUEST'
    return reply.code(statusCode).send({ statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message: err.message })
  })
}

/** A JSON 404 for unknown routes (the standalone server's; an embedding host keeps its own). */
export function setNotFoundHandler (fastify: FastifyInstance): void {
  fastify.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: `no route ${request.method} ${request.url.split('?')[0]}` })
  })
}
