import type { FastifyPluginAsync } from 'fastify'

/** GET /metrics: Prometheus text format — work in hand, streams, and job events by type and kind since start. */
const metrics: FastifyPluginAsync = async (fastify) => {
  const { service, streams } = fastify.jobcast
  // `${type}\0${kind}` → count; job types and event kinds are few, so this stays small.
  const events = new Map<string, number>()
  const unsubscribe = service.events.subscribe(({ kind, job }) => {
    if (kind === 'progress' || job === undefined) return
    const key = `${job.type}\0${kind}`
    events.set(key, (events.get(key) ?? 0) + 1)
  })
  fastify.addHook('onClose', async () => { unsubscribe() })

  fastify.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const counts = await service.store.countByState()
    const queued = counts.filter((c) => c.state === 'queued').reduce((n, c) => n + c.count, 0)
    const lines = [
      '# HELP jobcast_jobs_running Jobs running on this node now.',
      '# TYPE jobcast_jobs_running gauge',
      `jobcast_jobs_running ${service.runner.running}`,
      '# HELP jobcast_jobs_queued Jobs waiting to run (ready or delayed).',
      '# TYPE jobcast_jobs_queued gauge',
      `jobcast_jobs_queued ${queued}`,
      '# HELP jobcast_sse_clients Open SSE streams.',
      '# TYPE jobcast_sse_clients gauge',
      `jobcast_sse_clients ${streams.clientCount}`,
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
