import { createHash, timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { JobEventKind, JobState } from '../core/model.ts'
import { ClientError } from '../errors.ts'

/** What the metrics need to hear of a job: the change, and the job after it. */
interface JobChange {
  kind: JobEventKind
  type: string
  state: string
  startedAt: number | null
  finishedAt: number | null
}

/** What the metrics read from the core. */
interface MetricsSource {
  /** Calls `listener` on every job change this node makes; returns the unsubscribe. */
  onJob: (listener: (change: JobChange) => void) => () => void
  /** Jobs running on this node now. */
  running: () => number
  /** Jobs by type and state, from the store (every node's, where the store is shared). */
  counts: () => Promise<Array<{ type: string, state: JobState, count: number }>>
  /** Open SSE streams now. */
  sseClients: () => number
  /** Calls `listener` for every event frame written to an SSE client. */
  onSseEvent: (listener: () => void) => void
}

/** The one place that knows where job changes, counts and stream figures come from: the engine and the stream hub. */
function metricsSource (fastify: FastifyInstance): MetricsSource {
  const { service, streams } = fastify.jobcast
  return {
    // This node's changes only (those with the record attached): counters of a cluster are summed across its
    // nodes, so each change is counted by the node that made it (and no other node's view is parsed for it).
    onJob: (listener) => service.events.subscribe(({ kind, job }) => {
      if (job !== undefined) listener({ kind, type: job.type, state: job.state, startedAt: job.startedAt, finishedAt: job.finishedAt })
    }),
    running: () => service.runner.running,
    counts: async () => await service.store.countByState(),
    sseClients: () => streams.clientCount,
    onSseEvent: (listener) => {
      // The hub has no counter of its own: each client's write is wrapped as it attaches (first frames included).
      const attach = streams.attach.bind(streams)
      streams.attach = (client) => {
        const write = client.write
        client.write = (frame) => {
          listener()
          return write(frame)
        }
        attach(client)
      }
    }
  }
}

const TERMINAL = new Set(['completed', 'failed', 'canceled'])

/** GET /metrics: Prometheus text from prom-client — process and event loop, jobs, queues, durations, retries, SSE, HTTP. */
export default fp(async (fastify) => {
  const source = metricsSource(fastify)
  const register = new Registry()
  collectDefaultMetrics({ register, eventLoopMonitoringPrecision: 20 })

  // Counted by the store at each scrape: exact, across restarts and nodes (one grouped query).
  new Gauge({
    name: 'jobcast_jobs',
    help: 'Jobs in the store by type and state (finished ones until retention deletes them).',
    labelNames: ['type', 'state'],
    registers: [register],
    async collect () {
      const counts = await source.counts()
      this.reset()
      for (const c of counts) this.set({ type: c.type, state: c.state }, c.count)
    }
  })
  new Gauge({
    name: 'jobcast_queue_depth',
    help: 'Jobs waiting to run (ready or delayed), by type.',
    labelNames: ['type'],
    registers: [register],
    async collect () {
      this.reset()
      for (const c of await source.counts()) if (c.state === 'queued') this.set({ type: c.type }, c.count)
    }
  })
  const duration = new Histogram({
    name: 'jobcast_job_duration_seconds',
    help: 'Time from a job\'s start to its end, by type and outcome.',
    labelNames: ['type', 'outcome'],
    buckets: [0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers: [register]
  })
  const retries = new Counter({ name: 'jobcast_job_retries_total', help: 'Attempts that failed and were scheduled again, by type.', labelNames: ['type'], registers: [register] })
  const events = new Counter({ name: 'jobcast_job_events_total', help: 'Job state changes made by this node since start, by job type and event.', labelNames: ['type', 'event'], registers: [register] })
  new Gauge({ name: 'jobcast_jobs_running', help: 'Jobs running on this node now.', registers: [register], collect () { this.set(source.running()) } })
  new Gauge({
    name: 'jobcast_jobs_queued',
    help: 'Jobs waiting to run (ready or delayed).',
    registers: [register],
    async collect () { this.set((await source.counts()).filter((c) => c.state === 'queued').reduce((n, c) => n + c.count, 0)) }
  })
  new Gauge({ name: 'jobcast_sse_clients', help: 'Open SSE streams.', registers: [register], collect () { this.set(source.sseClients()) } })
  const sent = new Counter({ name: 'jobcast_sse_events_sent_total', help: 'Live events written to SSE clients.', registers: [register] })
  const http = new Histogram({
    name: 'jobcast_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status (streams excluded).',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [register]
  })

  source.onSseEvent(() => { sent.inc() })
  const unsubscribe = source.onJob((change) => {
    if (change.kind === 'progress') return
    events.inc({ type: change.type, event: change.kind })
    if (change.kind === 'retrying') retries.inc({ type: change.type })
    if (TERMINAL.has(change.state) && change.startedAt !== null && change.finishedAt !== null) {
      duration.observe({ type: change.type, outcome: change.state }, Math.max(0, change.finishedAt - change.startedAt) / 1000)
    }
  })
  fastify.addHook('onClose', async () => { unsubscribe() })

  fastify.addHook('onResponse', async (request, reply) => {
    // A stream's "latency" is how long it stayed open: it would drown the requests that answer.
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/event-stream')) return
    http.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: reply.statusCode }, reply.elapsedTime / 1000)
  })

  const token = fastify.jobcast.config.metricsToken
  const expected = token === '' ? undefined : createHash('sha256').update(`Bearer ${token}`).digest()
  fastify.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (expected !== undefined) {
      // Compared as hashes in constant time: the header's length and content tell nothing.
      const given = createHash('sha256').update(request.headers.authorization ?? '').digest()
      if (!timingSafeEqual(given, expected)) throw new ClientError(401, 'UNAUTHORIZED', 'metrics need "Authorization: Bearer <JOBCAST_METRICS_TOKEN>"')
    }
    return await reply.type(register.contentType).send(await register.metrics())
  })
}, { name: 'jobcast-metrics' })
