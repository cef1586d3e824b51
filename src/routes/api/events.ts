import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply } from 'fastify'
import { Type } from 'typebox'
import { TERMINAL_STATES } from '../../core/model.ts'
import { ClientError } from '../../errors.ts'
import type { JobEvent } from '../../ports/job-events.ts'
import { retryFrame, sseFrame } from '../../sse/frame.ts'
import { isTerminal, type StreamClient } from '../../sse/stream-hub.ts'

const ResumeQuery = Type.Object({
  lastEventId: Type.Optional(Type.String({ maxLength: 128, description: 'resume after this event id (as Last-Event-ID does)' }))
})

/** Reconnect hint: 2–3 s. */
const RETRY_BASE_MS = 2000
const RETRY_JITTER_MS = 1000
/** A client with more than this much unsent is dropped; it resumes from its last event id. */
const MAX_BUFFERED_BYTES = 1024 * 1024

/** SSE: GET /api/events (everything of mine, one connection) and GET /api/jobs/:id/events (one job, ends with it). */
const events: FastifyPluginAsyncTypebox = async (fastify) => {
  const { streams, service } = fastify.jobcast

  // Opens the stream and attaches its client, holding live events until its first frames are written.
  const maxStreams = fastify.jobcast.config.maxStreamsPerUser
  const open = (reply: FastifyReply, user: string, filter: Pick<StreamClient, 'wants' | 'endsAfter'>): StreamClient => {
    // Checked and attached in one synchronous step: parallel connects cannot all slip under the cap.
    if (streams.clientsOf(user) >= maxStreams) {
      throw new ClientError(429, 'TOO_MANY_STREAMS', `you have ${maxStreams} streams open, the most allowed; one /api/events stream carries all your jobs`, { 'retry-after': '5' })
    }
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
      close: () => {
        reply.sse!.close()
        // A client dropped for not reading would keep its kernel buffers: the socket goes too.
        if (raw.writableLength > MAX_BUFFERED_BYTES) raw.destroy()
      }
    }
    streams.attach(client)
    reply.sse!.onClose(() => { streams.detach(client) })
    raw.write(retryFrame(RETRY_BASE_MS, RETRY_JITTER_MS))
    return client
  }

  const lastEventIdOf = (headers: Record<string, unknown>, query: { lastEventId?: string | undefined }): string | undefined => {
    const header = headers['last-event-id']
    return typeof header === 'string' && header !== '' ? header : query.lastEventId
  }

  // The events after a cursor, or a snapshot frame and the events after the snapshot's cursor; with that cursor.
  const firstFrames = async (client: StreamClient, lastEventId: string | undefined, snapshot: () => Promise<{ cursor: string, data: string }>): Promise<{ from: string, events: JobEvent[] } | undefined> => {
    const missed = lastEventId === undefined ? undefined : await service.events.since(client.user, lastEventId)
    if (missed !== undefined) return { from: lastEventId!, events: missed }
    const { cursor, data } = await snapshot()
    if (!streams.writeFrame(client, sseFrame('snapshot', cursor, data))) return undefined
    return { from: cursor, events: await service.events.since(client.user, cursor) ?? [] }
  }

  fastify.get('/events', {
    sse: 'only',
    schema: { summary: 'Server-Sent Events: every change to my jobs, on one connection (resume with Last-Event-ID)', querystring: ResumeQuery }
  }, async (request, reply) => {
    const user = request.jobcastUser
    const client = open(reply, user, { wants: () => true })
    const first = await firstFrames(client, lastEventIdOf(request.headers, request.query), async () => {
      const snapshot = await fastify.jobcast.snapshot(user)
      return { cursor: snapshot.cursor, data: JSON.stringify(snapshot) }
    })
    if (first !== undefined) streams.release(client, first.events, first.from)
  })

  fastify.get('/jobs/:id/events', {
    sse: 'only',
    schema: { summary: 'Server-Sent Events of one job of mine; the stream ends after its final event', params: Type.Object({ id: Type.String({ maxLength: 64 }) }), querystring: ResumeQuery }
  }, async (request, reply) => {
    const user = request.jobcastUser
    const { id } = request.params
    const job = await service.queries.get(user, id)
    if (job === undefined) throw new ClientError(404, 'JOB_NOT_FOUND', `you have no job "${id}"`)
    const lastEventId = lastEventIdOf(request.headers, request.query)
    if (lastEventId !== undefined && TERMINAL_STATES.has(job.state)) {
      const missed = (await service.events.since(user, lastEventId))?.filter((e) => e.jobId === id)
      // A reconnect after the end: 204 tells EventSource to stop reconnecting.
      if (missed !== undefined && missed.length === 0) return await reply.code(204).send()
    }
    const client = open(reply, user, { wants: (event) => event.jobId === id, endsAfter: isTerminal })
    let ended = false
    const first = await firstFrames(client, lastEventId, async () => {
      const cursor = await service.events.head(user)
      const view = await service.queries.view(user, id)
      ended = view === undefined || TERMINAL_STATES.has(view.state)
      return { cursor, data: JSON.stringify(view ?? null) }
    })
    if (first === undefined) return
    if (ended) {
      // The snapshot is the job's end: nothing more will come.
      streams.detach(client)
      return
    }
    streams.release(client, first.events.filter((e) => e.jobId === id), first.from)
  })

  fastify.get('/batches/:id/events', {
    sse: 'only',
    schema: {
      summary: 'Server-Sent Events of one batch of mine: a snapshot, its children\'s events and a "batch" event with the aggregate on every change; ends once the batch is done',
      params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
      querystring: ResumeQuery
    }
  }, async (request, reply) => {
    const user = request.jobcastUser
    const { id } = request.params
    if (await service.batches.get(user, id) === undefined) throw new ClientError(404, 'BATCH_NOT_FOUND', `you have no batch "${id}"`)
    const client = open(reply, user, { wants: (event) => event.batchId === id, endsAfter: endsBatch })
    let ended = false
    const first = await firstFrames(client, lastEventIdOf(request.headers, request.query), async () => {
      const cursor = await service.events.head(user)
      const batch = await service.batches.get(user, id)
      const view = batch === undefined ? null : await service.batches.view(batch)
      ended = view === null || view.done
      return { cursor, data: JSON.stringify(view) }
    })
    if (first === undefined) return
    if (ended) {
      streams.detach(client)
      return
    }
    streams.release(client, first.events.filter((e) => e.batchId === id), first.from)
  })
}

// A batch stream ends with the batch event that says it is done.
function endsBatch (event: JobEvent): boolean {
  return event.kind === 'batch' && (JSON.parse(event.data) as { done?: boolean }).done === true
}
export default events
