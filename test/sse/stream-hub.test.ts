import { test } from 'tap'
import { formatCursor, parseCursor } from '../../src/sse/cursor.ts'
import { retryFrame, sseFrame } from '../../src/sse/frame.ts'
import { StreamHub, type StreamClient, type StreamEvent } from '../../src/sse/stream-hub.ts'

// A client that records what it is sent; `accept` decides what write() answers.
function fakeClient (user: string, options: { accept?: () => boolean, wants?: (e: StreamEvent) => boolean, endsAfter?: (e: StreamEvent) => boolean } = {}): StreamClient & { frames: string[], closed: number } {
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

const seqs = (events: StreamEvent[] | undefined): number[] | undefined => events?.map((e) => e.seq)

test('cursor: format and parse round-trip; anything else is not a cursor', async (t) => {
  t.same(parseCursor(formatCursor({ epoch: 'abc123', seq: 42 })), { epoch: 'abc123', seq: 42 })
  for (const bad of [undefined, null, '', '42', 'abc-', '-1', 'ABC-1', 'abc-1-2', 'abc-1e3', `${'a'.repeat(17)}-1`]) {
    t.equal(parseCursor(bad), undefined, `${String(bad)} is not a cursor`)
  }
  t.equal(sseFrame('progress', 'e-1', '{"a":1}'), 'id: e-1\nevent: progress\ndata: {"a":1}\n\n')
  t.equal(retryFrame(2000, 1000, () => 0.5), 'retry: 2500\n\n')
})

test('publish: the ring keeps the last bufferSize events per user', async (t) => {
  const hub = new StreamHub({ bufferSize: 3, epoch: 'ep' })
  const start = hub.cursor('alice')
  for (let i = 0; i < 5; i++) hub.publish('alice', 'progress', 'j1', null, `{"i":${i}}`)
  hub.publish('bob', 'queued', 'j2', null, '{}')
  t.equal(hub.since('alice', start), undefined, '5 events since: 2 fell out of a ring of 3')
  t.same(seqs(hub.since('alice', 'ep-2')), [3, 4, 5], 'from the floor: the whole ring')
  t.same(seqs(hub.since('alice', 'ep-4')), [5])
  t.same(seqs(hub.since('alice', 'ep-5')), [], 'up to date')
  t.same(seqs(hub.since('bob', 'ep-5')), [6], 'seqs are global; bob\'s channel has only bob\'s')
  t.equal(hub.since('alice', 'ep-1'), undefined, 'older than the ring')
})

test('since: too old, another epoch, a future cursor, garbage, an unknown user → undefined', async (t) => {
  const hub = new StreamHub({ bufferSize: 10, epoch: 'ep' })
  hub.publish('alice', 'queued', 'j1', null, '{}')
  hub.publish('alice', 'started', 'j1', null, '{}')
  t.same(seqs(hub.since('alice', 'ep-0')), [1, 2])
  t.equal(hub.since('alice', 'other-1'), undefined, 'another run')
  t.equal(hub.since('alice', 'ep-3'), undefined, 'a cursor from the future')
  t.equal(hub.since('alice', 'not a cursor'), undefined)
  t.equal(hub.since('carol', 'ep-0'), undefined, 'a user with no channel')

  const late = new StreamHub({ bufferSize: 10, epoch: 'ep' })
  late.publish('bob', 'queued', 'j0', null, '{}')
  late.publish('alice', 'queued', 'j1', null, '{}')
  t.equal(late.since('alice', 'ep-0'), undefined, 'before alice\'s channel existed: unknown, not "nothing missed"')
  t.same(seqs(late.since('alice', 'ep-1')), [2])
})

test('clients: each gets its user\'s wanted events; endsAfter and a refused write detach', async (t) => {
  const hub = new StreamHub({ bufferSize: 10, epoch: 'ep' })
  const all = fakeClient('alice')
  const one = fakeClient('alice', { wants: (e) => e.jobId === 'j1', endsAfter: (e) => e.terminal })
  let accept = true
  const slow = fakeClient('alice', { accept: () => accept })
  const bob = fakeClient('bob')
  for (const c of [all, one, slow, bob]) hub.attach(c)
  hub.attach(all)
  t.equal(hub.clientCount, 4, 'attaching twice counts once')

  hub.publish('alice', 'queued', 'j1', null, '{"n":1}')
  hub.publish('alice', 'queued', 'j2', null, '{"n":2}')
  t.equal(all.frames.length, 2)
  t.equal(one.frames.length, 1, 'the job stream skips other jobs')
  t.equal(bob.frames.length, 0, 'bob gets none of alice\'s events')
  t.match(all.frames[0], /^id: ep-1\nevent: queued\ndata: \{"n":1\}\n\n$/)

  accept = false
  hub.publish('alice', 'progress', 'j2', null, '{}')
  t.equal(slow.closed, 1, 'a client whose write returns false is closed')
  t.equal(hub.clientCount, 3)
  hub.publish('alice', 'progress', 'j2', null, '{}')
  t.equal(slow.frames.length, 3, 'and gets nothing more')

  hub.publish('alice', 'completed', 'j1', null, '{}')
  t.equal(one.closed, 1, 'the job stream ends after the job\'s terminal event')
  t.equal(one.frames.length, 2)
  t.equal(hub.clientCount, 2)

  hub.detach(all)
  hub.detach(all)
  t.equal(all.closed, 1, 'detach closes once')
  hub.closeAll()
  t.equal(bob.closed, 1)
  t.equal(hub.clientCount, 0)
})

test('sweep drops channels idle for idleMs with no client, and keeps the others', async (t) => {
  const hub = new StreamHub({ bufferSize: 10, idleMs: 1000, epoch: 'ep' })
  hub.publish('alice', 'queued', 'j1', null, '{}')
  hub.publish('bob', 'queued', 'j2', null, '{}')
  const carol = fakeClient('carol')
  hub.attach(carol)
  t.equal(hub.channelCount, 3)
  hub.sweep(Date.now() + 500)
  t.equal(hub.channelCount, 3, 'not idle long enough')
  hub.sweep(Date.now() + 1000)
  t.equal(hub.channelCount, 1, 'alice and bob dropped; carol has a client')
  t.equal(hub.since('alice', 'ep-0'), undefined, 'a dropped channel\'s cursors get a snapshot')
  hub.detach(carol)
  hub.sweep(Date.now() + 1000)
  t.equal(hub.channelCount, 0)
})
