import { test } from 'tap'
import { Type } from 'typebox'
import { defineJob, type JobDefinition } from '../../src/core/define-job.ts'
import type { JobView } from '../../src/schemas/job.ts'
import { AUTH, build, startJob, untilAborted, waitForState } from '../helper.ts'

const waitForever = defineJob({
  type: 'wait-abort',
  input: Type.Object({ n: Type.Optional(Type.Integer()) }),
  async run (ctx) { return await untilAborted(ctx.signal) }
}) as JobDefinition

// A type whose preview awaits (as csv-profile reads its upload): concurrent twins all pass the first key check.
const previewed = defineJob({
  type: 'previewed',
  input: Type.Object({}),
  async preview () {
    await new Promise((resolve) => setImmediate(resolve))
    return { looked: true }
  },
  async run (ctx) { return await untilAborted(ctx.signal) }
}) as JobDefinition

test('concurrent starts with one Idempotency-Key make one job even when the preview awaits', async (t) => {
  const app = await build(t, { shutdownGraceMs: 0 }, [previewed])
  const headers = { ...AUTH.alice, 'idempotency-key': 'twin' }
  const responses = await Promise.all(Array.from({ length: 50 }, async () =>
    await app.inject({ method: 'POST', url: '/api/jobs/previewed', headers, payload: {} })))
  t.same(new Set(responses.map((r) => r.statusCode)), new Set([202]), 'all accepted, none failed on the unique key')
  t.equal(new Set(responses.map((r) => r.json<JobView>().id)).size, 1, 'one id')
  t.equal((await app.jobcast.service.store.list('alice', { limit: 100 })).length, 1, 'one job stored')
})

test('200 concurrent starts with one Idempotency-Key make exactly one job', async (t) => {
  const app = await build(t, { shutdownGraceMs: 0 }, [waitForever])
  const headers = { ...AUTH.alice, 'idempotency-key': 'import-2024-06-01' }
  const responses = await Promise.all(Array.from({ length: 200 }, async () =>
    await app.inject({ method: 'POST', url: '/api/jobs/wait-abort', headers, payload: { n: 1 } })))

  t.same(new Set(responses.map((r) => r.statusCode)), new Set([202]), 'all accepted')
  const ids = new Set(responses.map((r) => r.json<JobView>().id))
  t.equal(ids.size, 1, 'all 200 answers carry the same id')
  const [id] = ids
  t.same(new Set(responses.map((r) => r.headers.location)), new Set([`/api/jobs/${id}`]))
  t.equal(responses.filter((r) => r.headers['idempotent-replayed'] === undefined).length, 1, 'one created it, 199 replayed it')
  const stored = await app.jobcast.service.store.list('alice', { limit: 500 })
  t.equal(stored.length, 1, 'the store holds one job')
  t.equal(stored[0]!.id, id)

  const other = await app.inject({ method: 'POST', url: '/api/jobs/wait-abort', headers, payload: { n: 2 } })
  t.equal(other.statusCode, 422, 'the same key with another body')
  t.equal(other.json<{ code: string }>().code, 'IDEMPOTENCY_KEY_REUSED')
  const otherType = await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers, payload: { seconds: 0 } })
  t.equal(otherType.statusCode, 422, 'the same key for another type')

  const bob = await app.inject({ method: 'POST', url: '/api/jobs/wait-abort', headers: { ...AUTH.bob, 'idempotency-key': 'import-2024-06-01' }, payload: { n: 1 } })
  t.equal(bob.statusCode, 202, 'keys are per user')
  t.not(bob.json<JobView>().id, id)
  t.equal((await app.jobcast.service.store.list('alice', { limit: 500 })).length, 1)
})

test('200 concurrent cancels of one running job: all 200 answer canceled, nothing crashes', async (t) => {
  let runs = 0
  const counted = defineJob({
    type: 'counted',
    input: Type.Object({}),
    async run (ctx) {
      runs++
      return await untilAborted(ctx.signal)
    }
  }) as JobDefinition
  const app = await build(t, {}, [counted])
  const job = await startJob(app, 'alice', 'counted', {})
  await waitForState(app, 'alice', job.id, 'running')

  const responses = await Promise.all(Array.from({ length: 200 }, async () =>
    await app.inject({ method: 'POST', url: `/api/jobs/${job.id}/cancel`, headers: AUTH.alice })))
  t.same(new Set(responses.map((r) => r.statusCode)), new Set([200]))
  t.same(new Set(responses.map((r) => r.json<JobView>().state)), new Set(['canceled']))
  t.equal(runs, 1)
  t.equal(app.jobcast.service.runner.running, 0)
  t.equal((await app.jobcast.get('alice', job.id))?.state, 'canceled')

  // The server still works.
  const next = await startJob(app, 'alice', 'sleep', { seconds: 0, steps: 1 })
  t.equal((await waitForState(app, 'alice', next.id, 'completed', 'failed')).state, 'completed')
})
