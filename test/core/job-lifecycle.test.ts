import { test } from 'tap'
import { Type } from 'typebox'
import { defineJob } from '../../src/core/define-job.ts'
import type { JobView } from '../../src/schemas/job.ts'
import { AUTH, build, recordEvents, startJob, untilAborted, waitForState } from '../helper.ts'

// Waits on its signal, and records what the signal said when it fired.
function abortRecorder (): { seen: Array<{ aborted: boolean, code: unknown }>, definition: ReturnType<typeof defineJob> } {
  const seen: Array<{ aborted: boolean, code: unknown }> = []
  const definition = defineJob({
    type: 'wait-abort',
    input: Type.Object({}),
    async run (ctx) {
      try {
        return await untilAborted(ctx.signal)
      } finally {
        seen.push({ aborted: ctx.signal.aborted, code: (ctx.signal.reason as { code?: unknown } | undefined)?.code })
      }
    }
  })
  return { seen, definition }
}

test('a start answers 202 with a Location; the job goes queued → running → completed with its result', async (t) => {
  const app = await build(t)
  const events = recordEvents(t, app)
  const res = await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers: AUTH.alice, payload: { seconds: 0.04, steps: 2 } })
  t.equal(res.statusCode, 202)
  const job = res.json<JobView>()
  t.equal(res.headers.location, `/api/jobs/${job.id}`)
  t.equal(job.type, 'sleep')
  t.equal(job.owner, 'alice')

  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed', 'canceled')
  t.equal(done.state, 'completed')
  t.same(done.result, { slept: 0.04, steps: 2, resumedAt: 0 })

  const mine = events.filter((e) => e.job.id === job.id)
  const states = mine.map((e) => e.job.state).filter((s, i, all) => s !== all[i - 1])
  t.same(states, ['queued', 'running', 'completed'], 'the states in order, none skipped')
  t.equal(mine[0]!.kind, 'queued')
  t.equal(mine[1]!.kind, 'started')
  t.equal(mine.at(-1)!.kind, 'completed')
  t.ok(mine.some((e) => e.kind === 'progress'), 'progress was reported while it ran')

  const snapshot = await app.inject({ method: 'GET', url: res.headers.location as string, headers: AUTH.alice })
  t.equal(snapshot.statusCode, 200)
  t.equal(snapshot.json<JobView>().state, 'completed')
  t.equal(snapshot.json<JobView>().progress?.percent, 100)
})

test('sleep with failAt fails with STEP_FAILED, without retrying a permanent error', async (t) => {
  const app = await build(t)
  const job = await startJob(app, 'alice', 'sleep', { seconds: 0.02, steps: 2, failAt: 1 })
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed', 'canceled')
  t.equal(done.state, 'failed')
  t.equal(done.error?.code, 'STEP_FAILED')
  t.equal(done.attempt, 1)
  const res = await app.inject({ method: 'GET', url: `/api/jobs/${job.id}`, headers: AUTH.alice })
  t.equal(res.json<JobView>().error?.code, 'STEP_FAILED')
})

test('cancel of a queued job: canceled, and its handler never runs', async (t) => {
  const { seen, definition } = abortRecorder()
  const app = await build(t, { userConcurrency: 1 }, [definition])
  const running = await startJob(app, 'alice', 'wait-abort', {})
  await waitForState(app, 'alice', running.id, 'running')
  const queued = await startJob(app, 'alice', 'wait-abort', {})
  t.equal(queued.state, 'queued')

  const res = await app.inject({ method: 'POST', url: `/api/jobs/${queued.id}/cancel`, headers: AUTH.alice })
  t.equal(res.statusCode, 200)
  t.equal(res.json<JobView>().state, 'canceled')
  t.equal(res.json<JobView>().error?.code, 'CANCELED')
  t.equal(seen.length, 0, 'the queued handler never ran')

  // Canceling the running one frees the slot; the canceled queued job must not take it.
  await app.inject({ method: 'POST', url: `/api/jobs/${running.id}/cancel`, headers: AUTH.alice })
  t.equal(seen.length, 1)
  t.equal((await app.jobcast.service.store.countQueued('alice')), 0)
  t.equal((await app.jobcast.get('alice', queued.id))?.state, 'canceled')
})

test('cancel of a running job: canceled, and the handler saw its signal abort with CANCELED', async (t) => {
  const { seen, definition } = abortRecorder()
  const app = await build(t, {}, [definition])
  const job = await startJob(app, 'alice', 'wait-abort', {})
  await waitForState(app, 'alice', job.id, 'running')

  const res = await app.inject({ method: 'POST', url: `/api/jobs/${job.id}/cancel`, headers: AUTH.alice })
  t.equal(res.statusCode, 200)
  t.equal(res.json<JobView>().state, 'canceled')
  t.same(seen, [{ aborted: true, code: 'CANCELED' }])
  t.equal(app.jobcast.service.runner.running, 0, 'its slot is free')

  const again = await app.inject({ method: 'POST', url: `/api/jobs/${job.id}/cancel`, headers: AUTH.alice })
  t.equal(again.statusCode, 200, 'canceling a canceled job is harmless')
  t.equal(again.json<JobView>().state, 'canceled')
})

test('cancel of a finished job is a 409', async (t) => {
  const app = await build(t)
  const job = await startJob(app, 'alice', 'sleep', { seconds: 0, steps: 1 })
  await waitForState(app, 'alice', job.id, 'completed')
  const res = await app.inject({ method: 'POST', url: `/api/jobs/${job.id}/cancel`, headers: AUTH.alice })
  t.equal(res.statusCode, 409)
  t.equal(res.json<{ code: string }>().code, 'JOB_FINISHED')
})
