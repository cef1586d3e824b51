import type { FastifyPluginAsync } from 'fastify'
import type { JobEventKind } from '../core/event-bus.ts'

/** GET /metrics: Prometheus text format — work in hand, streams, and job events by type and kind since start. */
const metrics: FastifyPluginAsync = async (fastify) => {
  // `${type}\0${kind}` → count; job types and event kinds are few, so this stays small.
  const events = new Map<string, number>()
  const onJob = ({ kind, job }: { kind: JobEventKind, job: { type: string } }): void => {
    if (kind === 'progress') return
    const key = `${job.type}\0${kind}`
    events.set(key, (events.get(key) ?? 0) + 1)
  }
  fastify.bus.on('job', onJob)
  fastify.addHook('onClose', async () => { fastify.bus.off('job', onJob) })

  fastify.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const { running, queued } = fastify.jobs.stats
    const lines = [
      '# HELP jobcast_jobs_running Jobs running now.',
      '# TYPE jobcast_jobs_running gauge',
      `jobcast_jobs_running ${running}`,
      '# HELP jobcast_jobs_queued Jobs waiting to run (ready or delayed).',
      '# TYPE jobcast_jobs_queued gauge',
      `jobcast_jobs_queued ${queued}`,
      '# HELP jobcast_sse_clients Open SSE streams.',
      '# TYPE jobcast_sse_clients gauge',
      `jobcast_sse_clients ${fastify.streams.clientCount}`,
      '# HELP jobcast_job_events_total Job state changes since start, by job type and event.',
      '# TYPE jobcast_job_events_total counter',
      ...[...events].map(([key, count]) => {
        const [type, kind] = key.split('\0')
        return `jobcast_job_events_total{type="${type}",event="${kind}"} ${count}`
      })
    ]
    return await reply.type('text/plain; version=0.0.4').send(lines.join('\n') + '\n')
  })
}
export default metrics
