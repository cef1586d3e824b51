import { test } from 'tap'
import { Scheduler, type ScheduleEntry, type SchedulerLimits } from '../../src/core/scheduler.ts'
import { deferred, type Deferred, type Teardown } from '../helper.ts'

/** A scheduler whose jobs run until the test finishes them; records the start order. */
function harness (t: Teardown, limits: Partial<SchedulerLimits> = {}) {
  const started: string[] = []
  const held = new Map<string, Deferred>()
  const waiters = new Map<string, Deferred>()
  const scheduler = new Scheduler({ concurrency: 1, userConcurrency: 10, typeConcurrency: () => undefined, ...limits }, async (entry) => {
    started.push(entry.id)
    const hold = deferred()
    held.set(entry.id, hold)
    waiters.get(entry.id)?.resolve()
    await hold.promise
  })
  t.teardown(() => {
    scheduler.stop()
    for (const hold of held.values()) hold.resolve()
  })
  const add = (id: string, owner: string, type = 'work', runAt = 0): void => { scheduler.enqueue({ id, owner, type, runAt } satisfies ScheduleEntry) }
  // Finishes a running job; once the microtasks have run, the scheduler has taken its slot back and started the next job.
  const finish = async (id: string): Promise<void> => {
    const hold = held.get(id)
    if (hold === undefined) throw new Error(`${id} is not running`)
    hold.resolve()
    await new Promise<void>((resolve) => { setImmediate(resolve) })
  }
  // Resolves when a (delayed) job starts.
  const startOf = async (id: string): Promise<void> => {
    if (started.includes(id)) return
    const waiter = deferred()
    waiters.set(id, waiter)
    await waiter.promise
  }
  return { scheduler, started, add, finish, startOf }
}

test('round-robin between users, FIFO within a user', async (t) => {
  const { started, add, finish, startOf } = harness(t)
  add('z1', 'zed')
  for (const id of ['a1', 'a2', 'a3']) add(id, 'alice')
  for (const id of ['b1', 'b2']) add(id, 'bob')
  add('c1', 'carol')
  t.same(started, ['z1'], 'one slot: only the first job runs')
  for (const done of ['z1', 'a1', 'b1', 'c1', 'a2', 'b2']) await finish(done)
  t.same(started, ['z1', 'a1', 'b1', 'c1', 'a2', 'b2', 'a3'])
})

test('a user who arrives while another has work waiting gets the very next turn', async (t) => {
  const { started, add, finish, startOf } = harness(t)
  add('z1', 'zed')
  add('a1', 'alice')
  add('a2', 'alice')
  await finish('z1')
  add('b1', 'bob')
  await finish('a1')
  t.same(started, ['z1', 'a1', 'b1'], 'alice just had her turn: bob goes before a2')
  await finish('b1')
  t.same(started, ['z1', 'a1', 'b1', 'a2'])
})

test('the per-user bound holds while other users get the free slots', async (t) => {
  const { scheduler, started, add } = harness(t, { concurrency: 10, userConcurrency: 2 })
  for (const id of ['a1', 'a2', 'a3', 'a4']) add(id, 'alice')
  add('b1', 'bob')
  t.same(started, ['a1', 'a2', 'b1'])
  t.equal(scheduler.running, 3)
  t.equal(scheduler.queuedFor('alice'), 2)
})

test('a type at its bound does not block the same user\'s other types', async (t) => {
  const { started, add, finish, startOf } = harness(t, { concurrency: 10, typeConcurrency: (type) => type === 'slow' ? 1 : undefined })
  add('s1', 'alice', 'slow')
  add('s2', 'alice', 'slow')
  add('f1', 'alice', 'fast')
  t.same(started, ['s1', 'f1'], 's2 waits for its type; f1 goes past it')
  await finish('s1')
  t.same(started, ['s1', 'f1', 's2'])
})

test('a delayed job waits for its runAt; ready jobs go before it', async (t) => {
  const { scheduler, started, add, finish, startOf } = harness(t)
  const runAt = Date.now() + 60
  add('later', 'alice', 'work', runAt)
  t.same(started, [], 'not started before its time')
  t.equal(scheduler.queued, 1)
  add('now', 'bob')
  t.same(started, ['now'])
  await finish('now')
  await startOf('later')
  t.ok(Date.now() >= runAt, 'started at or after runAt')
  t.same(started, ['now', 'later'])
})

test('remove() takes out waiting jobs, ready or delayed, and nothing else', async (t) => {
  const { scheduler, started, add, finish, startOf } = harness(t)
  add('x0', 'alice')
  add('x1', 'alice')
  add('x2', 'alice')
  add('d1', 'bob', 'work', Date.now() + 20)
  add('d2', 'bob', 'work', Date.now() + 40)
  t.equal(scheduler.remove('x1'), true)
  t.equal(scheduler.remove('x1'), false, 'twice: no longer there')
  t.equal(scheduler.remove('x0'), false, 'a running job is not waiting')
  t.equal(scheduler.remove('nope'), false)
  t.equal(scheduler.remove('d1'), true)
  t.equal(scheduler.queuedFor('alice'), 1)
  t.equal(scheduler.has('x1'), false)
  await finish('x0')
  t.same(started, ['x0', 'x2'])
  await finish('x2')
  await startOf('d2')
  t.same(started, ['x0', 'x2', 'd2'], 'x1 and d1 never ran, though d1 was due before d2')
})

test('stop() starts nothing more', async (t) => {
  const { scheduler, started, add, finish } = harness(t)
  add('a1', 'alice')
  add('a2', 'alice')
  scheduler.stop()
  await finish('a1')
  await scheduler.idle()
  t.same(started, ['a1'])
  t.equal(scheduler.running, 0)
})
