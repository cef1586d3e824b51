import { test } from 'tap'
import { Type } from 'typebox'
import { defineJob, type JobDefinition } from '../../src/core/define-job.ts'
import type { JobView } from '../../src/schemas/job.ts'
import { AUTH, build, startJob, waitForState } from '../helper.ts'

const withArtifact = defineJob({
  type: 'with-artifact',
  input: Type.Object({}),
  async run (ctx) {
    await ctx.artifact('out.txt', 'secret of alice', { contentType: 'text/plain' })
    return { ok: true }
  }
}) as JobDefinition

interface ErrorBody { statusCode: number, code: string, error: string, message: string }

test('another user\'s job is a 404 on every route, and is not listed', async (t) => {
  const app = await build(t, {}, [withArtifact])
  const job = await startJob(app, 'alice', 'with-artifact', {})
  await waitForState(app, 'alice', job.id, 'completed')
  const own = await app.inject({ method: 'GET', url: `/api/jobs/${job.id}/artifacts/out.txt`, headers: AUTH.alice })
  t.equal(own.statusCode, 200, 'the owner can download it (so the 404s below are about ownership)')

  for (const [method, url] of [
    ['GET', `/api/jobs/${job.id}`],
    ['POST', `/api/jobs/${job.id}/cancel`],
    ['GET', `/api/jobs/${job.id}/artifacts/out.txt`],
    ['GET', `/api/jobs/${job.id}/artifacts/nope.txt`]
  ] as const) {
    const res = await app.inject({ method, url, headers: AUTH.bob })
    t.equal(res.statusCode, 404, `${method} ${url}`)
    t.equal(res.json<ErrorBody>().code, 'JOB_NOT_FOUND')
    t.notMatch(res.body, 'secret of alice')
  }
  const list = await app.inject({ method: 'GET', url: '/api/jobs', headers: AUTH.bob })
  t.equal(list.statusCode, 200)
  t.same(list.json<{ items: JobView[] }>().items, [])
  const progress = await app.inject({ method: 'GET', url: '/api/progress', headers: AUTH.bob })
  t.same(progress.json<{ jobs: JobView[] }>().jobs, [])
  const aliceList = await app.inject({ method: 'GET', url: '/api/jobs', headers: AUTH.alice })
  t.same(aliceList.json<{ items: JobView[] }>().items.map((j) => j.id), [job.id])
})

test('no token or a wrong token: 401 JSON with code UNAUTHORIZED', async (t) => {
  const app = await build(t)
  for (const headers of [{}, { authorization: 'Bearer not-a-real-token' }, { authorization: 'Basic YWxpY2U6eA==' }, { cookie: 'jobcast_session=forged' }]) {
    for (const [method, url] of [['GET', '/api/jobs'], ['POST', '/api/jobs/sleep'], ['GET', '/api/job-types'], ['GET', '/api/progress']] as const) {
      const res = await app.inject({ method, url, headers, ...(method === 'POST' ? { payload: { seconds: 0 } } : {}) })
      t.equal(res.statusCode, 401, `${method} ${url} with ${JSON.stringify(headers)}`)
      t.match(res.headers['content-type'], /application\/json/)
      t.match(res.json<ErrorBody>(), { statusCode: 401, code: 'UNAUTHORIZED', message: String })
    }
  }
  t.equal((await app.jobcast.service.store.list('alice', { limit: 10 })).length, 0, 'nothing was started')
  const health = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(health.statusCode, 200, 'liveness needs no token')
})

test('a bad input is a 400 whose message names the field', async (t) => {
  const app = await build(t)
  const cases: Array<[unknown, RegExp]> = [
    [{ seconds: 'ten' }, /input\.seconds/],
    [{}, /input\.seconds/],
    [{ seconds: -1 }, /input\.seconds/],
    [{ seconds: 1, steps: 0 }, /input\.steps/],
    [{ seconds: 1, extra: true }, /input\.extra/]
  ]
  for (const [payload, field] of cases) {
    const res = await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers: AUTH.alice, payload: payload as object })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    const body = res.json<ErrorBody>()
    t.equal(body.code, 'INVALID_INPUT')
    t.match(body.message, field)
  }
  t.equal((await app.jobcast.service.store.list('alice', { limit: 10 })).length, 0, 'nothing was stored')
})

test('an unknown type is a 404 UNKNOWN_JOB_TYPE', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/api/jobs/no-such-type', headers: AUTH.alice, payload: {} })
  t.equal(res.statusCode, 404)
  t.equal(res.json<ErrorBody>().code, 'UNKNOWN_JOB_TYPE')
  t.match(res.json<ErrorBody>().message, 'no-such-type')
  const unknownJob = await app.inject({ method: 'GET', url: '/api/jobs/01nosuchjob', headers: AUTH.alice })
  t.equal(unknownJob.statusCode, 404)
  t.equal(unknownJob.json<ErrorBody>().code, 'JOB_NOT_FOUND')
})
