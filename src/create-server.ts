import Fastify, { type FastifyInstance } from 'fastify'
import app from './app.ts'
import type { Config } from './config.ts'
import type { JobDefinition } from './core/define-job.ts'

/** Time a client has to send a request's headers, in ms. */
const HEADERS_TIMEOUT_MS = 20_000

/** The production Fastify instance with the app registered (not listening): logger, timeouts, shutdown behaviour. */
export async function createServer (config: Config, jobTypes: JobDefinition[] = []): Promise<FastifyInstance> {
  const fastify = Fastify({
    logger: { level: config.logLevel },
    // Uploads can be large and streams are long-lived: no limit on a whole request, but a socket that moves nothing
    // for 2 minutes goes (streams send a heartbeat well within that), and a request body that sends nothing for
    // JOBCAST_UPLOAD_IDLE_MS gets 408 (the plugin's body guard).
    requestTimeout: 0,
    connectionTimeout: Math.max(120_000, 4 * config.heartbeatMs),
    keepAliveTimeout: 72_000,
    bodyLimit: config.maxInputBytes,
    trustProxy: config.trustProxy,
    // Shutdown closes idle keep-alive sockets at once instead of waiting for them.
    forceCloseConnections: 'idle'
  })
  // Headers dripped slowly (slowloris) end here, whatever the body timers.
  fastify.server.headersTimeout = HEADERS_TIMEOUT_MS
  await fastify.register(app, { config, jobTypes })
  return fastify
}
