import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyInstance } from 'fastify'
import { formatBytes } from '../uploads/receive-upload.ts'
import { ClientError, JobcastError } from '../errors.ts'

/** jobcast's one error handler, set on its own (encapsulated) routes: 4xx say what to fix, 5xx are logged and hidden. */
export function setErrorHandler (fastify: FastifyInstance, maxInputBytes = 1024 * 1024, onStoreFault: (err: unknown) => void = () => {}): void {
  fastify.setErrorHandler((err: FastifyError | JobcastError, request, reply) => {
    if (isDamagedDatabase(err)) {
      // Not a 500 with /healthz ok: the store is marked broken (health 503 with the code) and clients are told.
      onStoreFault(err)
      request.log.error({ err }, 'the database file is damaged')
      return reply.code(503).send({ statusCode: 503, code: 'DATABASE_CORRUPT', error: 'Service Unavailable', message: 'the job store\'s file is damaged; the operator has been told (see /healthz)' })
    }
    const statusCode = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500
    if (err instanceof ClientError) reply.headers(err.headers)
    // A body cut off mid-way (too large, idle) leaves bytes on the connection: it is not reused.
    if (statusCode === 408 || statusCode === 413 || err.code === 'SHUTTING_DOWN') reply.header('connection', 'close')
    if (err instanceof JobcastError && (statusCode === 503 || statusCode === 507)) {
      // The store is full or away, or the server is stopping: the client can act on that (retry later).
      request.log.warn({ err }, 'request refused: the server cannot take it now')
      if (statusCode === 503) reply.header('retry-after', '1')
      return reply.code(statusCode).send({ statusCode, code: err.code, error: STATUS_CODES[statusCode] ?? 'Error', message: err.message })
    }
    if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ statusCode: 413, code: 'INPUT_TOO_LARGE', error: 'Payload Too Large', message: `the request body is larger than ${formatBytes(maxInputBytes)}, the most allowed (JOBCAST_MAX_INPUT_BYTES); send large data as a file` })
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

/** Whether `err` is SQLite saying its file is damaged (SQLITE_CORRUPT, SQLITE_NOTADB and their extended codes). */
export function isDamagedDatabase (err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code)
}

/**
 * Gives a code to the error bodies that plugins send themselves rather than throw (@fastify/sse's 406 for a client
 * that does not accept text/event-stream), so that every error a client sees has one.
 */
export function codeSentErrors (fastify: FastifyInstance): void {
  fastify.addHook('preSerialization', async (_request, reply, payload) => {
    if (reply.statusCode !== 406 || typeof payload !== 'object' || payload === null || 'code' in payload) return payload
    return { ...payload, code: 'NOT_ACCEPTABLE' }
  })
}

/** A JSON 404 for unknown routes (the standalone server's; an embedding host keeps its own). */
export function setNotFoundHandler (fastify: FastifyInstance): void {
  fastify.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: `no route ${request.method} ${request.url.split('?')[0]}` })
  })
}
