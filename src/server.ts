import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import type { Config } from './config.ts'
import type { JobDefinition } from './core/define-job.ts'
import { createServer } from './create-server.ts'

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /** Job types served besides the built-in ones (default none). */
  jobTypes?: JobDefinition[]
  /** Where the first-start instructions go (default stdout). */
  out?: NodeJS.WritableStream
}

/**
 * Starts the jobcast server: listens, prints the first-start instructions, and shuts down gracefully on
 * SIGTERM/SIGINT (running jobs get `shutdownGraceMs`, the rest resume on the next start). Resolves once listening.
 */
export async function startServer (config: Config, { jobTypes = [], out = process.stdout }: StartServerOptions = {}): Promise<FastifyInstance> {
  const fastify = await createServer(config, jobTypes)

  const graceful = closeWithGrace({ delay: config.shutdownGraceMs + 5000, logger: fastify.log }, async ({ signal, err }) => {
    if (err !== undefined) fastify.log.error({ err }, 'closing after an error')
    else fastify.log.info({ signal }, 'shutting down: running jobs get the grace period, the rest resume on the next start')
    await fastify.close()
  })

  let address: string
  try {
    address = await fastify.listen({ port: config.port, host: config.host })
  } catch (err) {
    // A start that fails (port taken, a bad job type) leaves nothing running: the process can exit with the error.
    graceful.uninstall()
    await fastify.close().catch(() => {})
    throw err
  }
  if (fastify.jobcast.firstRunToken !== undefined) out.write(firstStartText(address, fastify.jobcast.firstRunToken))
  return fastify
}

// Printed once, on the first start of an empty data folder: the only time this token is shown.
function firstStartText (address: string, token: string): string {
  return [
    '',
    'jobcast: first start, created user "demo". Its token (shown only now):',
    `  ${token}`,
    'Try it:',
    `  curl -H "Authorization: Bearer ${token}" -H "Content-Type: application/json" -d '{"seconds":5}' ${address}/api/jobs/sleep`,
    `  curl -N -H "Authorization: Bearer ${token}" ${address}/api/events`,
    ''
  ].join('\n') + '\n'
}
