import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import { Type } from 'typebox'
import { defineJob, type JobDefinition } from '../../src/core/define-job.ts'
import { AUTH, build, deferred, startJob, untilAborted, waitForState } from '../helper.ts'

/** Counts the jobs running inside handlers, in all, per type and per user, and keeps the peaks and the start order. */
class Tracker {
  running = 0
  peak = 0
  readonly byType = new Map<string, number>()
  readonly peakByType = new Map<string, number>()
  readonly byUser = new Map<string, number>()
  readonly peakByUser = new Map<string, number>()
  readonly starts: Array<{ owner: string, id: string }> = []

  enter (owner: string, type: string, id: string): void {
    this.starts.push({ owner, id })
    this.peak = Math.max(this.peak, ++this.running)
    bump(this.byType, this.peakByType, type, 1)
    bump(this.byUser, this.peakByUser, owner, 1)
  }

  leave (owner: string, type: string): void {
    this.running--
    bump(this.byType, this.peakByType, type, -1)
    bump(this.byUser, this.peakByUser, owner, -1)
  }
}

function bump (now: Map<string, number>, peaks: Map<string, number>, key: string, by: number): void {
  const value = (now.get(key) ?? 0) + by
  now.set(key, value)
  peaks.set(key, Math.max(peaks.get(key) ?? 0, value))
}

// A job type that runs for `ms` (after `gate`, when given) and reports itself to the tracker.
function probe (tracker: Tracker, type: string, options: { ms: number, concurrency?: number, gate?: Promise<void> }): JobDefinition {
  return defineJob({
    type,
    input: Type.Object({}),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    async run (ctx) {
      tracker.enter(ctx.owner, ctx.type, ctx.id)
      try {
        await options.gate
        await sleep(options.ms, undefined, { signal: ctx.signal })
        return null
      } finally {
        tracker.leave(ctx.owner, ctx.type)
      }
    }
  }) as JobDefinition
}

test('fairness: bob\'s one job starts before alice\'s 200 queued jobs drain', async (t) => {
  const tracker = new Tracker()
  const gate = deferred()
  const app = await build(t, { concurrency: 2, userConcurrency: 2 }, [probe(tracker, 'probe', { ms: 2, gate: gate.promise })])
  const alice: string[] = []
  for (let i = 0; i < 200; i++) alice.push((await startJob(app, 'alice', 'probe', {})).id)
  const bob = await startJob(app, 'bob', 'probe', {})
  t.equal(tracker.starts.length, 2, 'alice fills both slots; the rest wait')
  gate.resolve()

  await waitForState(app, 'bob', bob.id, 'completed')
  const bobAt = tracker.starts.findIndex((s) => s.id === bob.id)
  t.ok(bobAt >= 2 && bobAt <= 3, `bob started at position ${bobAt}, right after a slot freed (FIFO would put him at 200)`)
  const last = alice.at(-1)!
  await waitForState(app, 'alice', last, 'completed')
  t.equal(tracker.starts.length, 201, 'every job ran once')
  t.same(tracker.starts.filter((s) => s.owner === 'alice').map((s) => s.id), alice, 'alice\'s jobs ran in her order')
})

test('the global, per-type and per-user bounds are never exceeded', async (t) => {
  const tracker = new Tracker()
  const app = await build(t, { concurrency: 5, userConcurrency: 2 }, [
    probe(tracker, 'bounded', { ms: 8, concurrency: 2 }),
    probe(tracker, 'free', { ms: 8 })
  ])
  const started: Array<{ user: 'alice' | 'bob' | 'carol', id: string }> = []
  for (let i = 0; i < 12; i++) {
    for (const user of ['alice', 'bob', 'carol'] as const) {
      started.push({ user, id: (await startJob(app, user, i % 2 === 0 ? 'bounded' : 'free', {})).id })
    }
  }
  for (const { user, id } of started) t.equal((await waitForState(app, user, id, 'completed', 'failed')).state, 'completed')

  t.equal(tracker.starts.length, 36)
  t.ok(tracker.peak <= 5, `global peak ${tracker.peak} <= 5`)
  t.ok(tracker.peak > 2, `jobs did run in parallel (peak ${tracker.peak})`)
  t.ok(tracker.peakByType.get('bounded')! <= 2, `type peak ${tracker.peakByType.get('bounded')} <= 2`)
  for (const user of ['alice', 'bob', 'carol']) {
    t.ok(tracker.peakByUser.get(user)! <= 2, `${user}'s peak ${tracker.peakByUser.get(user)} <= 2`)
  }
  t.equal(tracker.running, 0)
})

test('admission: past maxQueuedPerUser waiting jobs a start gets 429 QUEUE_FULL with Retry-After', async (t) => {
  const blocker = defineJob({ type: 'block', input: Type.Object({}), async run (ctx) { return await untilAborted(ctx.signal) } })
  const app = await build(t, { userConcurrency: 1, maxQueuedPerUser: 3, shutdownGraceMs: 0 }, [blocker as JobDefinition])
  const running = await startJob(app, 'alice', 'block', {})
  await waitForState(app, 'alice', running.id, 'running')
  const queued = []
  for (let i = 0; i < 3; i++) queued.push(await startJob(app, 'alice', 'block', {}))
  t.same(queued.map((j) => j.state), ['queued', 'queued', 'queued'])

  const refused = await app.inject({ method: 'POST', url: '/api/jobs/block', headers: AUTH.alice, payload: {} })
  t.equal(refused.statusCode, 429)
  t.equal(refused.json<{ code: string }>().code, 'QUEUE_FULL')
  t.match(refused.headers['retry-after'], /^\d+$/)
  t.equal((await app.jobcast.service.store.list('alice', { limit: 100 })).length, 4, 'the refused start stored nothing')

  const bob = await app.inject({ method: 'POST', url: '/api/jobs/block', headers: AUTH.bob, payload: {} })
  t.equal(bob.statusCode, 202, 'another user is not affected')

  await app.inject({ method: 'POST', url: `/api/jobs/${queued[0]!.id}/cancel`, headers: AUTH.alice })
  const again = await app.inject({ method: 'POST', url: '/api/jobs/block', headers: AUTH.alice, payload: {} })
  t.equal(again.statusCode, 202, 'a freed place can be taken again')
})

test('admission counts starts still being committed: a burst cannot pass maxQueuedPerUser', async (t) => {
  const blocker = defineJob({ type: 'block', input: Type.Object({}), async run (ctx) { return await untilAborted(ctx.signal) } })
  const app = await build(t, { userConcurrency: 1, maxQueuedPerUser: 5, shutdownGraceMs: 0 }, [blocker as JobDefinition])
  const running = await startJob(app, 'alice', 'block', {})
  await waitForState(app, 'alice', running.id, 'running')
  const burst = await Promise.all(Array.from({ length: 20 }, async () =>
    await app.inject({ method: 'POST', url: '/api/jobs/block', headers: AUTH.alice, payload: {} })))
  t.equal(burst.filter((r) => r.statusCode === 202).length, 5, 'exactly the allowed number accepted')
  t.equal(burst.filter((r) => r.statusCode === 429).length, 15, 'the rest refused')
  t.equal((await app.jobcast.service.store.list('alice', { limit: 100 })).length, 6, 'one running, five waiting')
})
