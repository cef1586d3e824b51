import Fastify, { type FastifyInstance } from 'fastify'
import app from './app.ts'
import type { Config } from './config.ts'
import type { JobDefinition } from './core/define-job.ts'

/** The production Fastify instance with the app registered (not listening): logger, timeouts, shutdown behaviour. */
export async function createServer (config: Config, jobTypes: JobDefinition[] = []): Promise<FastifyInstance> {
  const fastify = Fastify({
    logger: { level: config.logLevel },
    // Uploads can be large and streams are long-lived: no request timeout, but bounded idle sockets.
    requestTimeout: 0,
    keepAliveTimeout: 72_000,
    bodyLimit: 1024 * 1024,
    // Shutdown closes idle keep-alive sockets at once instead of waiting for them.
    forceCloseConnections: 'idle'
  })
  await fastify.register(app, { config, jobTypes })
  return fastify
}
