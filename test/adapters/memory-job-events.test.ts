import { test } from 'tap'
import { MemoryJobEvents } from '../../src/adapters/memory/memory-job-events.ts'
import type { JobEvent, JobEventInput } from '../../src/ports/job-events.ts'

const event = (owner: string, jobId = 'j1', kind: JobEventInput['kind'] = 'progress'): JobEventInput => ({ kind, jobId, owner, batchId: null, data: '{}' })
const seqs = (events: JobEvent[] | undefined): number[] | undefined => events?.map((e) => Number(e.cursor.split('-')[1]))

test('each owner has their own sequence: bob\'s cursor does not move when alice works', async (t) => {
  const log = new MemoryJobEvents({ epoch: 'ep' })
  const bobBefore = await log.head('bob')
  for (let i = 0; i < 3; i++) await log.publish(event('alice'))
  t.equal(await log.head('bob'), bobBefore)
  t.equal((await log.publish(event('bob'))).cursor, 'ep-1', 'bob\'s first event is his seq 1')
  t.equal(await log.head('alice'), 'ep-3')
})

test('the ring keeps the last bufferSize events per owner; older cursors cannot be replayed', async (t) => {
  const log = new MemoryJobEvents({ bufferSize: 3, epoch: 'ep' })
  const start = await log.head('alice')
  for (let i = 0; i < 5; i++) await log.publish(event('alice'))
  t.equal(await log.since('alice', start), undefined, '5 events since: 2 fell out of a ring of 3')
  t.same(seqs(await log.since('alice', 'ep-2')), [3, 4, 5], 'from the floor: the whole ring')
  t.same(seqs(await log.since('alice', 'ep-4')), [5])
  t.same(seqs(await log.since('alice', 'ep-5')), [], 'up to date')
})

test('since: another epoch, a future cursor, garbage, an unknown owner → undefined', async (t) => {
  const log = new MemoryJobEvents({ epoch: 'ep' })
  await log.publish(event('alice', 'j1', 'queued'))
  await log.publish(event('alice', 'j1', 'started'))
  t.same(seqs(await log.since('alice', 'ep-0')), [1, 2], 'from before the first event: all of them')
  for (const bad of ['other-1', 'ep-3', 'not a cursor', '', 'ep-', 'EP-1', `${'a'.repeat(17)}-1`]) {
    t.equal(await log.since('alice', bad), undefined, `"${bad}" cannot be replayed`)
  }
  t.equal(await log.since('carol', 'ep-0'), undefined, 'an owner this log never saw')
})

test('a listener that throws is logged and does not stop the others or the publisher', async (t) => {
  const errors: unknown[] = []
  const log = new MemoryJobEvents({ log: { error: (obj: unknown) => { errors.push(obj) } } as never })
  const heard: string[] = []
  log.subscribe(() => { throw new Error('boom') })
  const stop = log.subscribe((e) => { heard.push(e.kind) })
  await log.publish(event('alice', 'j1', 'queued'))
  await log.publish(event('alice', 'j1', 'retrying'))
  t.same(heard, ['queued', 'retrying'])
  t.equal(errors.length, 2, 'each failure reported')
  stop()
  await log.publish(event('alice'))
  t.same(heard, ['queued', 'retrying'], 'unsubscribed')
  t.equal(log.listenerCount, 1)
})

test('sweep drops the kept events of idle owners but keeps their sequence: a cursor from just before still replays', async (t) => {
  const log = new MemoryJobEvents({ idleMs: 1000, epoch: 'ep' })
  await log.publish(event('alice'))
  const cursor = await log.head('alice')
  log.sweep(Date.now() + 500)
  t.equal(log.retained('alice'), 1, 'not idle long enough')
  log.sweep(Date.now() + 1000)
  t.equal(log.retained('alice'), 0)
  t.equal(await log.since('alice', 'ep-0'), undefined, 'what was dropped cannot be replayed')
  await log.publish(event('alice', 'j2', 'queued'))
  t.same(seqs(await log.since('alice', cursor)), [2], 'the next event replays from the cursor before it')
})

test('requestCancel reaches every cancel listener', async (t) => {
  const log = new MemoryJobEvents()
  const heard: string[] = []
  log.onCancelRequest((id) => { heard.push(`a:${id}`) })
  const stop = log.onCancelRequest((id) => { heard.push(`b:${id}`) })
  await log.requestCancel('j1')
  stop()
  await log.requestCancel('j2')
  t.same(heard, ['a:j1', 'b:j1', 'a:j2'])
})
