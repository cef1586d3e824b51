import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { ClientError } from '../../errors.ts'
import { toJobView } from '../../schemas/job.ts'
import { retryFrame, sseFrame } from '../../sse/frame.ts'
import type { StreamClient, StreamEvent } from '../../sse/stream-hub.ts'
import { TERMINAL_STATES } from '../../adapters/sqlite/types.ts'
import { RECENT_MS } from './progress.ts'

const ResumeQuery = Type.Object({
  lastEventId: Type.Optional(Type.String({ maxLength: 64, description: 'resume after this event id (as Last-Event-ID does)' }))
})

/** Reconnect hint: 2–3 s. */
const RETRY_BASE_MS = 2000
const RETRY_JITTER_MS = 1000
/** A client with more than this much unsent is dropped; it resumes from its last event id. */
const MAX_BUFFERED_BYTES = 1024 * 1024

/** SSE: GET /api/events (everything of mine, one connection) and GET /api/jobs/:id/events (one job, ends with it). */
const events: FastifyPluginAsyncTypebox = async (fastify) => {
  const hub = fastify.streams

  // Opens the stream: headers, retry hint, first frames; registers the client in the same tick, so no event falls between.
  const open = (reply: FastifyReply, user: string, first: string, filter: Pick<StreamClient, 'wants' | 'endsAfter'>): StreamClient => {
    const raw = reply.raw
    reply.header('cache-control', 'no-cache, no-transform').header('x-accel-buffering', 'no')
    reply.sse!.keepAlive()
    reply.sse!.sendHeaders()
    const client: StreamClient = {
      user,
      ...filter,
      write: (frame) => {
        if (raw.destroyed || raw.writableEnded) return false
        raw.write(frame)
        return raw.writableLength <= MAX_BUFFERED_BYTES
      },
      close: () => { reply.sse!.close() }
    }
    raw.write(retryFrame(RETRY_BASE_MS, RETRY_JITTER_MS) + first)
    hub.attach(client)
    reply.sse!.onClose(() => { hub.detach(client) })
    return client
  }

  const lastEventIdOf = (headers: Record<string, unknown>, query: { lastEventId?: string | undefined }): string | undefined => {
    const header = headers['last-event-id']
    return typeof header === 'string' && header !== '' ? header : query.lastEventId
  }

  fastify.get('/events', { sse: 'only', schema: { querystring: ResumeQuery } }, async (request, reply) => {
    const user = request.user
    const lastEventId = lastEventIdOf(request.headers, request.query)
    const missed = lastEventId === undefined ? undefined : hub.since(user, lastEventId)
    let first: string
    if (missed !== undefined) {
      first = missed.map((e) => e.frame).join('')
    } else {
      const cursor = hub.cursor(user)
      const jobs = fastify.jobs.recent(user, Date.now() - RECENT_MS).map((job) => toJobView(job))
      first = sseFrame('snapshot', cursor, JSON.stringify({ cursor, jobs, batches: [] }))
    }
    open(reply, user, first, { wants: () => true })
  })

  fastify.get('/jobs/:id/events', {
    sse: 'only',
    schema: { params: Type.Object({ id: Type.String({ maxLength: 64 }) }), querystring: ResumeQuery }
  }, async (request, reply) => {
    const user = request.user
    const { id } = request.params
    const job = fastify.jobs.get(user, id)
    if (job === undefined) throw new ClientError(404, 'JOB_NOT_FOUND', `you have no job "${id}"`)
    const lastEventId = lastEventIdOf(request.headers, request.query)
    const missed = lastEventId === undefined ? undefined : hub.since(user, lastEventId)?.filter((e) => e.jobId === id)
    const finished = TERMINAL_STATES.has(job.state)
    if (missed !== undefined && missed.length === 0 && finished) {
      // A reconnect after the end: 204 tells EventSource to stop reconnecting.
      return await reply.code(204).send()
    }
    const frames = missed ?? [{ frame: sseFrame('snapshot', hub.cursor(user), JSON.stringify(toJobView(job, finished ? fastify.jobStore.artifacts(id) : []))), terminal: finished }]
    const client = open(reply, user, frames.map((f) => f.frame).join(''), {
      wants: (event: StreamEvent) => event.jobId === id,
      endsAfter: (event: StreamEvent) => event.terminal
    })
    // The job's end was among the first frames: nothing more will come.
    if (frames.some((f) => f.terminal)) hub.detach(client)
  })
}
export default events
