import Fastify, { type FastifyInstance } from 'fastify'
import app from './app.ts'
import type { Config } from './config.ts'
import type { JobDefinition } from './core/define-job.ts'

/** The production Fastify instance with the app registered (not listening): logger, timeouts, shutdown behaviour. */
export async function createServer (config: Config, jobTypes: JobDefinition[] = []): Promise<FastifyInstance> {
  const fastify = Fastify({
    logger: { level: config.logLevel },
    // Every route: headers within JOBCAST_HEADERS_TIMEOUT_MS, the whole request (an upload's body too) within
    // JOBCAST_REQUEST_TIMEOUT_MS, else 408 and the connection closes (a stream's request is complete once its headers
    // are in: it is not cut). A body that sends nothing for JOBCAST_UPLOAD_IDLE_MS gets 408 sooner (the body guard),
    // and a socket that moves nothing for 2 minutes goes (streams send a heartbeat well within that).
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: Math.max(120_000, 4 * config.heartbeatMs),
    keepAliveTimeout: 72_000,
    bodyLimit: config.maxInputBytes,
    trustProxy: config.trustProxy,
    // Shutdown closes idle keep-alive sockets at once instead of waiting for them.
    forceCloseConnections: 'idle',
    // Node checks the header and request timeouts on this interval (30 s by default): often enough that a short
    // timeout holds to within a fraction of itself.
    http: { connectionsCheckingInterval: Math.max(100, Math.min(5000, Math.floor(Math.min(config.headersTimeoutMs, config.requestTimeoutMs) / 4))) }
  })
  // Headers dripped slowly (slowloris) end here, whatever the body timers.
  fastify.server.headersTimeout = Math.min(config.headersTimeoutMs, config.requestTimeoutMs)
  await fastify.register(app, { config, jobTypes })
  return fastify
}
