// The jobcast server as src/server.ts builds it (same Fastify options), plus the `noop` job type, for the
// start-latency benchmark. Reads the same environment as src/server.ts; prints one JSON line
// `{"listening": "<url>"}` on stdout once it listens; closes on SIGTERM/SIGINT.
//
//   PORT=0 HOST=127.0.0.1 JOBCAST_DATA_DIR=/tmp/x JOBCAST_TOKENS=bench:bench-token-0001 LOG_LEVEL=warn \
//     node --import tsx scripts/bench/bench-server.ts
import Fastify from 'fastify'
import app from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { noopJob } from './noop-job.ts'

const config = loadConfig()
const fastify = Fastify({
  logger: { level: config.logLevel },
  requestTimeout: 0,
  keepAliveTimeout: 72_000,
  bodyLimit: 1024 * 1024,
  forceCloseConnections: 'idle'
})
await fastify.register(app, { config, jobTypes: [noopJob] })

let closing = false
const close = (): void => {
  if (closing) return
  closing = true
  fastify.close().then(() => { process.exit(0) }, (err: unknown) => {
    process.stderr.write(`bench-server: close failed: ${(err as Error).message}\n`)
    process.exit(1)
  })
}
process.on('SIGTERM', close)
process.on('SIGINT', close)
// The driver's stdin closing (the driver died) ends this server too.
process.stdin.on('end', close).resume()

const address = await fastify.listen({ port: config.port, host: config.host })
process.stdout.write(JSON.stringify({ listening: address, pid: process.pid }) + '\n')
