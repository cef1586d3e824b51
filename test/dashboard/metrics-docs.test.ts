import Fastify from 'fastify'
import { test } from 'tap'
import app from '../../src/app.ts'
import { defineJob } from '../../src/core/define-job.ts'
import { RetryableError } from '../../src/errors.ts'
import { Type } from 'typebox'
import { AUTH, build, startJob, testConfig, waitForState } from '../helper.ts'
import { startLiveServer } from './live-server.ts'

/** One sample of a Prometheus text exposition: `name{labels}` → value (0 when absent). */
const sample = (text: string, series: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

// Fails its first attempt (retried at once), then completes: a retry and a duration to count.
const flaky = defineJob({
  type: 'flaky',
  input: Type.Object({}),
  retry: { attempts: 2, backoff: 'fixed', baseMs: 1 },
  async run (ctx) {
    if (ctx.attempt === 1) throw new RetryableError('first attempt fails')
    return { ok: true }
  }
})

test('/metrics: process, event loop, jobs, queues, durations, retries, SSE and HTTP figures, changing as jobs run', async (t) => {
  const { app: server, base } = await startLiveServer(t, {}, '')
  const scrape = async (): Promise<string> => await (await fetch(`${base}metrics`)).text()
  const before = await scrape()
  for (const name of ['process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
    t.match(before, new RegExp(`^${name} `, 'm'), `default metric ${name}`)
  }
  t.equal(sample(before, 'jobcast_sse_clients'), 0)

  // An open stream, one job held running and one queued behind it (user concurrency 1), one that fails.
  const stream = await fetch(`${base}api/events`, { headers: AUTH.alice })
  const reader = stream.body!.getReader()
  t.teardown(async () => { await reader.cancel() })
  await reader.read()
  const long = await startJob(server, 'alice', 'sleep', { seconds: 30, steps: 30 })
  await waitForState(server, 'alice', long.id, 'running')
  const failed = await startJob(server, 'alice', 'sleep', { seconds: 0, steps: 1, failAt: 1 })
  await waitForState(server, 'alice', failed.id, 'failed')
  const during = await scrape()
  t.equal(sample(during, 'jobcast_sse_clients'), 1, 'one SSE connection')
  t.ok(sample(during, 'jobcast_sse_events_sent_total') >= 4, 'events sent to it')
  t.equal(sample(during, 'jobcast_jobs{type="sleep",state="running"}'), 1, 'jobs by type and state: running')
  t.equal(sample(during, 'jobcast_jobs{type="sleep",state="failed"}'), 1, 'and failed')
  t.equal(sample(during, 'jobcast_job_duration_seconds_count{type="sleep",outcome="failed"}'), 1, 'a duration by outcome')
  t.ok(sample(during, 'jobcast_http_request_duration_seconds_count{method="POST",route="/api/jobs/:type",status_code="202"}') >= 2, 'HTTP latency by route')
  t.notMatch(during, /route="\/api\/events"/, 'streams are not latencies')
  await server.inject({ method: 'POST', url: `/api/jobs/${long.id}/cancel`, headers: AUTH.alice })
  await waitForState(server, 'alice', long.id, 'canceled')
  const after = await scrape()
  t.equal(sample(after, 'jobcast_jobs{type="sleep",state="running"}'), 0, 'no longer running')
  t.equal(sample(after, 'jobcast_jobs{type="sleep",state="canceled"}'), 1, 'canceled')
})

test('/metrics counts retries and queue depth by type', async (t) => {
  const server = await build(t, { userConcurrency: 1 }, [flaky])
  const hold = await startJob(server, 'alice', 'sleep', { seconds: 30, steps: 30 })
  await waitForState(server, 'alice', hold.id, 'running')
  const queued = await startJob(server, 'alice', 'sleep', { seconds: 0, steps: 1 })
  const depth = (await server.inject('/metrics')).body
  t.equal(sample(depth, 'jobcast_queue_depth{type="sleep"}'), 1, 'one sleep waiting')
  await server.inject({ method: 'POST', url: `/api/jobs/${hold.id}/cancel`, headers: AUTH.alice })
  await waitForState(server, 'alice', queued.id, 'completed')
  const job = await startJob(server, 'alice', 'flaky', {})
  await waitForState(server, 'alice', job.id, 'completed')
  const text = (await server.inject('/metrics')).body
  t.equal(sample(text, 'jobcast_job_retries_total{type="flaky"}'), 1, 'one retry')
  t.equal(sample(text, 'jobcast_queue_depth{type="sleep"}'), 0, 'none waiting')
  t.equal(sample(text, 'jobcast_job_duration_seconds_count{type="flaky",outcome="completed"}'), 1)
})

test('/docs lists every route that is not hidden, with its methods', async (t) => {
  const fastify = Fastify({ logger: false })
  const routes: Array<{ method: string, url: string }> = []
  fastify.addHook('onRoute', (route) => {
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true
    if (hidden || route.url.startsWith('/docs')) return
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method: method.toLowerCase(), url: route.url })
  })
  await fastify.register(app, { config: testConfig(t) })
  t.teardown(async () => { await fastify.close() })
  await fastify.ready()
  const doc = (await fastify.inject('/docs/json')).json<{ paths: Record<string, Record<string, unknown>> }>()
  t.ok(routes.length >= 10, `${routes.length} routes`)
  for (const { method, url } of routes) {
    const path = url.replace(/:(\w+)/g, '{$1}')
    t.ok(doc.paths[path]?.[method] !== undefined, `${method.toUpperCase()} ${url} is in /docs`)
  }
  t.ok((await fastify.inject('/docs')).statusCode < 400, 'the /docs page answers')
})
