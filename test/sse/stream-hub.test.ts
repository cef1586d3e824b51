import { test } from 'tap'
import { MemoryJobEvents } from '../../src/adapters/memory/memory-job-events.ts'
import { isCursorAfter, type JobEvent, type JobEventInput } from '../../src/ports/job-events.ts'
import { retryFrame, sseFrame } from '../../src/sse/frame.ts'
import { isTerminal, StreamHub, type StreamClient } from '../../src/sse/stream-hub.ts'

// A client that records what it is sent; `accept` decides what write() answers.
function fakeClient (user: string, options: { accept?: () => boolean, wants?: (e: JobEvent) => boolean, endsAfter?: (e: JobEvent) => boolean } = {}): StreamClient & { frames: string[], closed: number } {
  const client = {
    user,
    frames: [] as string[],
    closed: 0,
    wants: options.wants ?? (() => true),
    endsAfter: options.endsAfter,
    write: (frame: string) => { client.frames.push(frame); return options.accept?.() ?? true },
    close: () => { client.closed++ }
  }
  return client
}

const quiet = { warn: () => {} }
const event = (owner: string, jobId: string, kind: JobEventInput['kind'], data = '{}'): JobEventInput => ({ kind, jobId, owner, batchId: null, data })

test('frames: the SSE wire format', async (t) => {
  t.equal(sseFrame('progress', 'e-1', '{"a":1}'), 'id: e-1\nevent: progress\ndata: {"a":1}\n\n')
  t.equal(retryFrame(2000, 1000, () => 0.5), 'retry: 2500\n\n')
})

test('clients: each gets its user\'s wanted events; endsAfter and a refused write detach', async (t) => {
  const log = new MemoryJobEvents({ epoch: 'ep' })
  const hub = new StreamHub(log, quiet)
  const all = fakeClient('alice')
  const one = fakeClient('alice', { wants: (e) => e.jobId === 'j1', endsAfter: isTerminal })
  let accept = true
  const slow = fakeClient('alice', { accept: () => accept })
  const bob = fakeClient('bob')
  for (const c of [all, one, slow, bob]) {
    hub.attach(c)
    hub.release(c, [])
  }
  hub.attach(all)
  t.equal(hub.clientCount, 4, 'attaching twice counts once')

  log.publishNow(event('alice', 'j1', 'queued', '{"n":1}'))
  log.publishNow(event('alice', 'j2', 'queued', '{"n":2}'))
  t.equal(all.frames.length, 2)
  t.equal(one.frames.length, 1, 'the job stream skips other jobs')
  t.equal(bob.frames.length, 0, 'bob gets none of alice\'s events')
  t.match(all.frames[0], /^id: ep-1\nevent: queued\ndata: \{"n":1\}\n\n$/)

  accept = false
  log.publishNow(event('alice', 'j2', 'progress'))
  t.equal(slow.closed, 1, 'a client whose write returns false is closed')
  t.equal(hub.clientCount, 3)
  log.publishNow(event('alice', 'j2', 'progress'))
  t.equal(slow.frames.length, 3, 'and gets nothing more')

  log.publishNow(event('alice', 'j1', 'completed'))
  t.equal(one.closed, 1, 'the job stream ends after the job\'s terminal event')
  t.equal(one.frames.length, 2)
  t.equal(hub.clientCount, 2)

  hub.detach(all)
  hub.detach(all)
  t.equal(all.closed, 1, 'detach closes once')
  hub.closeAll()
  t.equal(bob.closed, 1)
  t.equal(hub.clientCount, 0)
  log.publishNow(event('bob', 'j3', 'queued'))
  t.equal(bob.frames.length, 0, 'a closed hub listens no more')
})

test('an attached client holds live events until released, then gets its first events and the held ones once each', async (t) => {
  const log = new MemoryJobEvents({ epoch: 'ep' })
  const hub = new StreamHub(log, quiet)
  const client = fakeClient('alice')
  const cursor = log.headNow('alice')
  hub.attach(client)
  log.publishNow(event('alice', 'j1', 'queued'))
  log.publishNow(event('alice', 'j1', 'started'))
  t.equal(client.frames.length, 0, 'nothing written while held')
  // The replay read after attaching already has the first event; the held copy of it is not sent twice.
  const replay = log.sinceNow('alice', cursor)!.slice(0, 1)
  t.ok(hub.release(client, replay))
  t.same(client.frames.map((f) => /^id: (\S+)/.exec(f)![1]), ['ep-1', 'ep-2'], 'in order, no duplicate')
  log.publishNow(event('alice', 'j1', 'progress'))
  t.equal(client.frames.length, 3, 'live after release')
})

test('an event heard late (this node behind the one the client resumed from) is never sent again, held or live', async (t) => {
  // Another node's log: the client saw ep-1..ep-3 there and resumes here with Last-Event-ID ep-3.
  const other = new MemoryJobEvents({ epoch: 'ep' })
  const seen = [1, 2, 3].map((n) => other.publishNow(event('alice', 'j1', 'progress', `{"n":${n}}`)))
  const later = other.publishNow(event('alice', 'j1', 'progress', '{"n":4}'))
  const heard: Array<(e: JobEvent) => void> = []
  const lagging = { ...other, subscribe: (listener: (e: JobEvent) => void) => { heard.push(listener); return () => {} } }
  const hub = new StreamHub(lagging as unknown as MemoryJobEvents, quiet)
  const client = fakeClient('alice')
  hub.attach(client)
  // This node's fan-out hears ep-2 only now, while the replay after ep-3 is read.
  for (const listener of heard) listener(seen[1]!)
  t.ok(hub.release(client, [later], seen[2]!.cursor))
  for (const listener of heard) { listener(seen[2]!); listener(later) }
  const next = other.publishNow(event('alice', 'j1', 'completed'))
  for (const listener of heard) listener(next)
  t.same(client.frames.map((f) => /^id: (\S+)/.exec(f)![1]), ['ep-4', 'ep-5'], 'only what the client did not have, once, in order')
})

test('cursor order: later seqs of one epoch are after, another epoch cannot be ordered and counts as after', async (t) => {
  t.ok(isCursorAfter('ep-10', 'ep-9'), 'numeric, not lexical')
  t.notOk(isCursorAfter('ep-9', 'ep-9'))
  t.notOk(isCursorAfter('ep-8', 'ep-9'))
  t.ok(isCursorAfter('a-b-2', 'a-b-1'), 'an epoch may hold dashes')
  t.ok(isCursorAfter('old-1', 'new-5'), 'another epoch')
})

test('the first frames go through the slow-client check too', async (t) => {
  const log = new MemoryJobEvents({ epoch: 'ep' })
  const hub = new StreamHub(log, quiet)
  const slow = fakeClient('alice', { accept: () => false })
  hub.attach(slow)
  t.notOk(hub.writeFrame(slow, sseFrame('snapshot', 'ep-0', '{}')), 'a snapshot the client cannot take drops it')
  t.equal(slow.closed, 1)
  t.equal(hub.clientCount, 0)
  t.notOk(hub.release(slow, []), 'a dropped client cannot be released')
})
