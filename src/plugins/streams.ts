import fp from 'fastify-plugin'
import { fastifySSE } from '@fastify/sse'
import type { Config } from '../config.ts'
import { toJobView } from '../schemas/job.ts'
import { TERMINAL_STATES } from '../adapters/sqlite/types.ts'
import { StreamHub } from '../sse/stream-hub.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Per-user SSE fan-out with replay. */
    streams: StreamHub
  }
}

/** Feeds job events from the bus into the stream hub; closes every stream before the server closes. */
export default fp<{ config: Config }>(async (fastify, { config }) => {
  await fastify.register(fastifySSE, { heartbeatInterval: config.heartbeatMs })
  const hub = new StreamHub({ bufferSize: config.replayBuffer })
  fastify.decorate('streams', hub)

  fastify.bus.on('job', ({ kind, job }) => {
    // Serialized at most once per event, whatever the number of clients, and only if a client needs it.
    hub.publish(job.owner, kind, job.id, job.batchId, () => {
      const artifacts = TERMINAL_STATES.has(job.state) ? fastify.jobStore.artifacts(job.id) : []
      return JSON.stringify(toJobView(job, artifacts))
    })
  })

  const sweep = setInterval(() => { hub.sweep() }, 60_000)
  sweep.unref()
  // Open streams would keep app.close() waiting forever: end them first.
  fastify.addHook('preClose', async () => {
    clearInterval(sweep)
    hub.closeAll()
  })
}, { name: 'streams', dependencies: ['jobs', 'job-store'] })
