import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { JobEvent } from '../core/event-bus.ts'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** What the metrics need to hear of a job: the change, and the job after it. */
interface JobChange {
  kind: 'queued' | 'started' | 'progress' | 'retrying' | 'completed' | 'failed' | 'canceled'
  id: string
  type: string
  state: string
  startedAt: number | null
  finishedAt: number | null
}

/** What the metrics read from the core. */
interface MetricsSource {
  /** Calls `listener` on every job change; returns the unsubscribe. */
  onJob: (listener: (change: JobChange) => void) => () => void
  /** Work in hand now, in all. */
  stats: () => { running: number, queued: number }
  /** Open SSE streams now. */
  sseClients: () => number
  /** Calls `listener` for every event frame written to an SSE client. */
  onSseEvent: (listener: () => void) => void
}

/**
 * The one place that knows where job changes, counts and stream figures come from today (the mitt bus, the job
 * service's stats, the stream hub). Rewire this to the JobEvents port (src/ports/job-events.ts) and the rest stays.
 */
function metricsSource (fastify: FastifyInstance): MetricsSource {
  return {
    onJob: (listener) => {
      const onJob = ({ kind, job }: JobEvent): void => {
        listener({ kind, id: job.id, type: job.type, state: job.state, startedAt: job.startedAt, finishedAt: job.finishedAt })
      }
      fastify.bus.on('job', onJob)
      return () => { fastify.bus.off('job', onJob) }
    },
    stats: () => fastify.jobs.stats,
    sseClients: () => fastify.streams.clientCount,
    onSseEvent: (listener) => {
      // The hub has no counter of its own: each client's write is wrapped as it attaches (the snapshot or replay that
      // opens a stream is written by the route, not through it, so those frames are not counted).
      const hub = fastify.streams
      const attach = hub.attach.bind(hub)
      hub.attach = (client) => {
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

  // The state of every job heard of that is not finished, to move it between states; finished ones are only counted.
  const open = new Map<string, { type: string, state: string }>()
  const jobs = new Gauge({ name: 'jobcast_jobs', help: 'Jobs by type and state: queued and running now; completed, failed and canceled since start.', labelNames: ['type', 'state'], registers: [register] })
  const queueDepth = new Gauge({
    name: 'jobcast_queue_depth',
    help: 'Jobs waiting to run (ready or delayed), by type.',
    labelNames: ['type'],
    registers: [register],
    collect () {
      this.reset()
      for (const job of open.values()) if (job.state === 'queued') this.inc({ type: job.type })
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
  const events = new Counter({ name: 'jobcast_job_events_total', help: 'Job state changes since start, by job type and event.', labelNames: ['type', 'event'], registers: [register] })
  new Gauge({ name: 'jobcast_jobs_running', help: 'Jobs running now.', registers: [register], collect () { this.set(source.stats().running) } })
  new Gauge({ name: 'jobcast_jobs_queued', help: 'Jobs waiting to run (ready or delayed).', registers: [register], collect () { this.set(source.stats().queued) } })
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
    const before = open.get(change.id)
    if (before !== undefined && before.state !== change.state) jobs.dec({ type: before.type, state: before.state })
    if (before?.state !== change.state) jobs.inc({ type: change.type, state: change.state })
    if (TERMINAL.has(change.state)) {
      open.delete(change.id)
      if (change.startedAt !== null && change.finishedAt !== null) {
        duration.observe({ type: change.type, outcome: change.state }, Math.max(0, change.finishedAt - change.startedAt) / 1000)
      }
    } else {
      open.set(change.id, { type: change.type, state: change.state })
    }
  })
  fastify.addHook('onClose', async () => { unsubscribe() })

  fastify.addHook('onResponse', async (request, reply) => {
    // A stream's "latency" is how long it stayed open: it would drown the requests that answer.
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/event-stream')) return
    http.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: reply.statusCode }, reply.elapsedTime / 1000)
  })

  fastify.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return await reply.type(register.contentType).send(await register.metrics())
  })
}, { name: 'metrics', dependencies: ['jobs', 'streams'] })
