import { test } from 'tap'
import { AUTH, build, startJob, waitForState } from '../helper.ts'

interface Listed { id: string, state: string, result: unknown, input?: unknown }

test('lists, /api/progress, snapshots and events carry the compact view (no input; a result only once finished); GET the full job', async (t) => {
  const app = await build(t, { progressIntervalMs: 0 })
  const events: Array<{ kind: string, view: Listed }> = []
  const unsubscribe = app.jobcast.service.events.subscribe((event) => { if (event.owner === 'alice') events.push({ kind: event.kind, view: JSON.parse(event.data) as Listed }) })
  t.teardown(unsubscribe)
  const input = { seconds: 0.3, steps: 3 }
  const job = await startJob(app, 'alice', 'sleep', input)
  await waitForState(app, 'alice', job.id, 'running')

  const list = (await app.inject({ url: '/api/jobs', headers: AUTH.alice })).json<{ items: Listed[] }>().items
  const progress = (await app.inject({ url: '/api/progress', headers: AUTH.alice })).json<{ jobs: Listed[] }>().jobs
  const snapshot = (await app.jobcast.snapshot('alice')).jobs as Listed[]
  for (const [where, views] of [['the list', list], ['/api/progress', progress], ['the snapshot', snapshot]] as const) {
    t.equal(views.length, 1, where)
    t.notOk('input' in views[0]!, `${where} carries no input`)
    t.equal(views[0]!.result, null, `${where}: no result while running`)
  }
  const full = (await app.inject({ url: `/api/jobs/${job.id}`, headers: AUTH.alice })).json<Listed>()
  t.same(full.input, input, 'GET /api/jobs/:id carries the input')

  await waitForState(app, 'alice', job.id, 'completed')
  t.ok(events.length >= 4, `${events.length} events`)
  for (const { kind, view } of events) {
    t.notOk('input' in view, `a ${kind} event carries no input`)
    if (kind !== 'completed') t.equal(view.result, null, `a ${kind} event carries no result`)
  }
  t.match(events.find((e) => e.kind === 'completed')?.view, { result: { slept: 0.3 } }, 'the terminal event carries the result')
})

test("a user's SSE cursor says nothing of other users' activity: bob's does not move while alice works", async (t) => {
  const app = await build(t)
  const bobBefore = (await app.jobcast.snapshot('bob')).cursor
  const aliceBefore = (await app.jobcast.snapshot('alice')).cursor
  for (let i = 0; i < 5; i++) await waitForState(app, 'alice', (await startJob(app, 'alice', 'sleep', { seconds: 0, steps: 1 })).id, 'completed')
  t.not((await app.jobcast.snapshot('alice')).cursor, aliceBefore, "alice's cursor moved with her jobs")
  t.equal((await app.jobcast.snapshot('bob')).cursor, bobBefore, "bob's stayed where it was")
  const res = await app.inject({ url: '/api/progress', headers: AUTH.bob })
  t.equal(res.json<{ cursor: string }>().cursor, bobBefore, 'as /api/progress tells him')
})
