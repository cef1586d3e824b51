import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import app from './app.ts'
import { loadConfig, type Config } from './config.ts'

/** Builds and starts the jobcast server: logger, timeouts, graceful shutdown, listen. */
export async function startServer (config: Config): Promise<void> {
  const fastify = Fastify({
    logger: { level: config.logLevel },
    // Uploads can be large and streams are long-lived: no request timeout, but bounded idle sockets.
    requestTimeout: 0,
    keepAliveTimeout: 72_000,
    bodyLimit: 1024 * 1024,
    // Shutdown closes idle keep-alive sockets at once instead of waiting for them.
    forceCloseConnections: 'idle'
  })
  await fastify.register(app, { config })

  closeWithGrace({ delay: config.shutdownGraceMs + 5000, logger: fastify.log }, async ({ signal, err }) => {
    if (err !== undefined) fastify.log.error({ err }, 'closing after an error')
    else fastify.log.info({ signal }, 'shutting down: running jobs get the grace period, the rest resume on the next start')
    await fastify.close()
  })

  const address = await fastify.listen({ port: config.port, host: config.host })
  if (fastify.firstRunToken !== undefined) {
    // Printed once, on the first start of an empty data folder: the only time this token is shown.
    process.stdout.write([
      '',
      'jobcast: first start, created user "demo". Its token (shown only now):',
      `  ${fastify.firstRunToken}`,
      'Try it:',
      `  curl -H "Authorization: Bearer ${fastify.firstRunToken}" -H "Content-Type: application/json" -d '{"seconds":5}' ${address}/api/jobs/sleep`,
      `  curl -N -H "Authorization: Bearer ${fastify.firstRunToken}" ${address}/api/events`,
      ''
    ].join('\n') + '\n')
  }
}

try {
  await startServer(loadConfig())
} catch (err) {
  process.stderr.write(`jobcast: cannot start: ${(err as Error).message}\n`)
  process.exit(1)
}
