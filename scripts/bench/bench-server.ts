// The jobcast server as src/server.ts builds it (src/create-server.ts), plus the `noop` job type, for the
// start-latency benchmark. Reads the same environment as src/server.ts; prints one JSON line
// `{"listening": "<url>"}` on stdout once it listens; closes on SIGTERM/SIGINT.
//
//   PORT=0 HOST=127.0.0.1 JOBCAST_DATA_DIR=/tmp/x JOBCAST_TOKENS=bench:bench-token-0001 LOG_LEVEL=warn \
//     node --import tsx scripts/bench/bench-server.ts
import { loadConfig } from '../../src/config.ts'
import { createServer } from '../../src/create-server.ts'
import { noopJob } from './noop-job.ts'

const config = loadConfig()
const fastify = await createServer(config, [noopJob])

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
