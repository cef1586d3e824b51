import closeWithGrace from 'close-with-grace'
import { loadConfig, type Config } from './config.ts'
import { createServer } from './create-server.ts'

/** Starts the jobcast server: graceful shutdown on SIGTERM/SIGINT, listen, first-start instructions. */
export async function startServer (config: Config): Promise<void> {
  const fastify = await createServer(config)

  closeWithGrace({ delay: config.shutdownGraceMs + 5000, logger: fastify.log }, async ({ signal, err }) => {
    if (err !== undefined) fastify.log.error({ err }, 'closing after an error')
    else fastify.log.info({ signal }, 'shutting down: running jobs get the grace period, the rest resume on the next start')
    await fastify.close()
  })

  const address = await fastify.listen({ port: config.port, host: config.host })
  if (fastify.jobcast.firstRunToken !== undefined) {
    // Printed once, on the first start of an empty data folder: the only time this token is shown.
    process.stdout.write([
      '',
      'jobcast: first start, created user "demo". Its token (shown only now):',
      `  ${fastify.jobcast.firstRunToken}`,
      'Try it:',
      `  curl -H "Authorization: Bearer ${fastify.jobcast.firstRunToken}" -H "Content-Type: application/json" -d '{"seconds":5}' ${address}/api/jobs/sleep`,
      `  curl -N -H "Authorization: Bearer ${fastify.jobcast.firstRunToken}" ${address}/api/events`,
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
