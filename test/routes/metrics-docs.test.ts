import { test } from 'tap'
import { AUTH, build, waitForState } from '../helper.ts'

test('/metrics counts job events by type and reports work in hand, in Prometheus text', async (t) => {
  const app = await build(t)
  const before = (await app.inject('/metrics')).body
  t.notMatch(before, /type="sleep"/, 'no sleep events yet')
  const started = await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers: AUTH.alice, payload: { seconds: 0, failAt: 1, steps: 1 } })
  await waitForState(app, 'alice', started.json<{ id: string }>().id, 'failed')
  const res = await app.inject('/metrics')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain/)
  t.match(res.body, /^jobcast_jobs_running 0$/m)
  t.match(res.body, /^jobcast_job_events_total\{type="sleep",event="queued"\} 1$/m)
  t.match(res.body, /^jobcast_job_events_total\{type="sleep",event="failed"\} 1$/m)
  t.notMatch(res.body, /event="completed"/)
})

test('/docs/json is an OpenAPI document of the API routes', async (t) => {
  const app = await build(t)
  const res = await app.inject('/docs/json')
  t.equal(res.statusCode, 200)
  const doc = res.json<{ openapi: string, paths: Record<string, unknown> }>()
  t.match(doc.openapi, /^3\./)
  for (const path of ['/api/jobs/{type}', '/api/jobs/{id}', '/api/jobs', '/api/events', '/api/progress', '/api/job-types']) {
    t.ok(path in doc.paths, `documents ${path}`)
  }
  t.notOk('/metrics' in doc.paths, 'hides /metrics')
})
