import Fastify, { type FastifyInstance } from 'fastify'
import jobcast from '../../src/plugin.ts'
import type { Config } from '../../src/config.ts'
import { testConfig, type Teardown } from '../helper.ts'

/**
 * A test-only switch on the event stream: `start()` drops every open SSE connection and answers api/events with
 * 503 until `end()`. It records each api/events request's cursor and each api/progress answer's cursor.
 */
export interface StreamOutage {
  start: () => void
  end: () => void
  readonly down: boolean
  /** `lastEventId` of every api/events request, in order (undefined for a first connect); `refused` while down. */
  readonly streamRequests: Array<{ lastEventId: string | undefined, refused: boolean }>
  /** The cursor of every api/progress answer, in order. */
  readonly polls: string[]
  /** Resolves once `count` more polls have been answered. */
  nextPolls: (count: number) => Promise<void>
}

/** A server of the whole app on a loopback port, with the outage switch; closed on teardown. */
export interface LiveServer {
  /** The instance jobcast is registered in (`app.jobcast`). */
  app: FastifyInstance
  /** `http://127.0.0.1:<port>/` plus the prefix, ending with `/`. */
  base: string
  outage: StreamOutage
}

/** Starts the app (under `prefix`, if given) on port 0. */
export async function startLiveServer (t: Teardown, overrides: Partial<Config> = {}, prefix = ''): Promise<LiveServer> {
  const fastify = Fastify({ logger: false })
  let down = false
  const streamRequests: StreamOutage['streamRequests'] = []
  const polls: string[] = []
  let pollWaiters: Array<{ until: number, resolve: () => void }> = []
  fastify.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!
    if (!path.endsWith('/api/events')) return
    const query = request.query as { lastEventId?: string }
    const header = request.headers['last-event-id']
    streamRequests.push({ lastEventId: typeof header === 'string' ? header : query.lastEventId, refused: down })
    if (down) return await reply.code(503).send({ statusCode: 503, code: 'STREAM_UNAVAILABLE', error: 'Service Unavailable', message: 'test outage' })
  })
  fastify.addHook('onSend', async (request, reply, payload) => {
    if (request.url.split('?')[0]!.endsWith('/api/progress') && reply.statusCode === 200 && typeof payload === 'string') {
      polls.push((JSON.parse(payload) as { cursor: string }).cursor)
      pollWaiters = pollWaiters.filter((w) => {
        if (polls.length < w.until) return true
        w.resolve()
        return false
      })
    }
    return payload
  })
  const config = testConfig(t, overrides)
  await fastify.register(jobcast, { config, prefix, builtIns: config.builtIns })
  const inner = fastify
  t.teardown(async () => { await fastify.close() })
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const { port } = fastify.server.address() as { port: number }
  const outage: StreamOutage = {
    start: () => {
      down = true
      inner.jobcast.streams.dropAll()
    },
    end: () => { down = false },
    get down () { return down },
    streamRequests,
    polls,
    nextPolls: async (count) => { await new Promise<void>((resolve) => { pollWaiters.push({ until: polls.length + count, resolve }) }) }
  }
  return { app: inner, base: `http://127.0.0.1:${port}${prefix}/`, outage }
}
