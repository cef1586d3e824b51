import { test } from 'tap'
import { Type } from 'typebox'
import { defineJob, type JobDefinition } from '../../src/core/define-job.ts'
import { KeyLimiters, type ServiceLimits } from '../../src/core/key-limiter.ts'
import { build, deferred, mostInWindow, startJob, waitForState, type Deferred } from '../helper.ts'
import { within } from '../ports/fixtures.ts'

test('concurrency: never more than N holders of a key, FIFO, every waiter served; other keys are not held up', async (t) => {
  const limiters = new KeyLimiters()
  const limits: ServiceLimits = { key: 'sat', concurrency: 3 }
  const signal = new AbortController().signal
  let holding = 0
  let most = 0
  const order: number[] = []
  const releases: Array<() => void> = []
  const acquired = Array.from({ length: 10 }, (_, i) => limiters.acquire(limits, signal).then((release) => {
    holding++
    most = Math.max(most, holding)
    order.push(i)
    releases.push(() => { holding--; release() })
  }))
  await Promise.all(acquired.slice(0, 3))
  t.equal(limiters.running('sat'), 3)
  t.same(order, [0, 1, 2])
  // Another key has its own bounds.
  const other = await limiters.acquire({ key: 'other', concurrency: 1 }, signal)
  other()
  // Release one at a time: each release lets exactly the next waiter in.
  for (let served = 3; served < 10; served++) {
    releases.shift()!()
    await acquired[served]
    t.equal(holding, 3, `after ${served - 2} releases, 3 hold the key`)
  }
  t.same(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'first come, first served')
  while (releases.length > 0) releases.shift()!()
  t.equal(most, 3, 'never more than 3')
  t.equal(limiters.running('sat'), 0, 'every slot returned')
})

test('concurrency: a waiter that aborts leaves the queue and takes no slot; a release twice counts once', async (t) => {
  const limiters = new KeyLimiters()
  const limits: ServiceLimits = { key: 'k', concurrency: 1 }
  const first = await limiters.acquire(limits, new AbortController().signal)
  const gone = new AbortController()
  const waiting = limiters.acquire(limits, gone.signal)
  const third = limiters.acquire(limits, new AbortController().signal)
  gone.abort(new Error('canceled'))
  await t.rejects(waiting, { message: 'canceled' })
  first()
  first()
  const release = await third
  t.equal(limiters.running('k'), 1, 'the aborted waiter took no slot, the double release freed one')
  release()
  t.equal(limiters.running('k'), 0)
  const holder = await limiters.acquire(limits, new AbortController().signal)
  await t.rejects(limiters.acquire(limits, AbortSignal.abort(new Error('already'))), { message: 'already' }, 'an aborted signal does not queue')
  holder()
  t.equal(limiters.running('k'), 0)
})

test('ratePerSecond: starts are spaced, counted in windows; an abort while spaced frees the slot', async (t) => {
  const limiters = new KeyLimiters()
  const limits: ServiceLimits = { key: 'api', ratePerSecond: 20 }
  const signal = new AbortController().signal
  const starts: number[] = []
  await Promise.all(Array.from({ length: 12 }, async () => {
    const release = await limiters.acquire(limits, signal)
    starts.push(Date.now())
    release()
  }))
  starts.sort((a, b) => a - b)
  t.equal(starts.length, 12, 'every start happened')
  // 20 a second, evenly: at most 5 in any 250 ms (2 ms of slack for timers that fire a millisecond early).
  t.ok(mostInWindow(starts, 248) <= 5, `at most 5 starts in any 248 ms window (${mostInWindow(starts, 248)})`)
  t.ok(mostInWindow(starts, 48) <= 1, 'no two starts within 48 ms')

  const spaced = new AbortController()
  const limitsBoth: ServiceLimits = { key: 'both', concurrency: 1, ratePerSecond: 2 }
  const firstRelease = await limiters.acquire(limitsBoth, signal)
  firstRelease()
  // The next start is 500 ms away: abort while it waits for its turn.
  const pending = limiters.acquire(limitsBoth, spaced.signal)
  spaced.abort(new Error('gone'))
  await t.rejects(pending, { message: 'gone' })
  t.equal(limiters.running('both'), 0, 'the slot it held while spaced is free again')
})

test('limits on job types: jobs of two types naming one key never run more than its concurrency at once, across the runner', async (t) => {
  let inHandler = 0
  let most = 0
  // Each handler waits on its gate; `entered` hands the test the gate of the next handler that starts.
  const entered: Array<Deferred<Deferred>> = Array.from({ length: 8 }, () => deferred<Deferred>())
  let started = 0
  const limited = (type: string): JobDefinition => defineJob({
    type,
    input: Type.Object({}),
    limits: { key: 'sat-api', concurrency: 2 },
    async run () {
      inHandler++
      most = Math.max(most, inHandler)
      const gate = deferred()
      entered[started++]!.resolve(gate)
      await gate.promise
      inHandler--
      return null
    }
  }) as JobDefinition
  const app = await build(t, { concurrency: 10, userConcurrency: 10 }, [limited('timbrar'), limited('cancelar')])
  const jobs = []
  for (let i = 0; i < 8; i++) jobs.push(await startJob(app, 'alice', i % 2 === 0 ? 'timbrar' : 'cancelar', {}))
  const gates = [await within(entered[0]!.promise, 10_000, 'a handler'), await within(entered[1]!.promise, 10_000, 'a second handler')]
  t.equal(inHandler, 2, 'two handlers hold the key; the other six jobs wait before theirs')
  // Let go one at a time: each release lets the next waiting job in.
  for (let i = 0; i < 8; i++) {
    gates[i]!.resolve()
    if (i + 2 < 8) gates.push(await within(entered[i + 2]!.promise, 10_000, 'the next handler'))
  }
  for (const job of jobs) t.equal((await waitForState(app, 'alice', job.id, 'completed', 'failed')).state, 'completed')
  t.equal(started, 8)
  t.equal(most, 2, 'at most 2 handlers of the key at once, and 2 were reached')
})
