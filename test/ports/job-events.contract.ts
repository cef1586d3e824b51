// The JobEvents contract: the same cases against every adapter, through the port only.
import type { Test } from 'tap'
import type { JobEventKind } from '../../src/core/model.ts'
import { isCursorAfter, type JobEvent, type JobEventInput, type JobEvents } from '../../src/ports/job-events.ts'
import { makeJob, within } from './fixtures.ts'

/** A fresh, empty event log for one case. */
export interface JobEventsHarness {
  events: JobEvents
  /** Releases the log (closing `events` and every peer first). */
  cleanup: () => Promise<void>
  /** Another node's handle on the same log (absent: the cross-node cases are skipped). */
  peer?: () => Promise<JobEvents>
  /** Prunes each owner's history down to its newest `keepPerOwner` events (absent: the pruning case is skipped). */
  prune?: (keepPerOwner: number) => Promise<void>
}

/** Opens a fresh, empty event log. */
export type JobEventsFactory = () => Promise<JobEventsHarness>

const WAIT_MS = 5000

/** An event of `owner` about job `jobId`, its data naming `label`. */
function input (owner: string, label: string, kind: JobEventKind = 'progress', jobId = 'job-1'): JobEventInput {
  return { kind, jobId, owner, batchId: null, data: JSON.stringify({ label }) }
}

const labels = (events: JobEvent[] | undefined): string[] | undefined =>
  events?.map((e) => (JSON.parse(e.data) as { label: string }).label)

/** Resolves with the first `n` events `events` delivers that `accept` takes (within WAIT_MS). */
async function collect (events: JobEvents, n: number, accept: (e: JobEvent) => boolean = () => true): Promise<JobEvent[]> {
  const heard: JobEvent[] = []
  let unsubscribe = (): void => {}
  const done = new Promise<JobEvent[]>((resolve) => {
    unsubscribe = events.subscribe((event) => {
      if (!accept(event)) return
      heard.push(event)
      if (heard.length === n) resolve(heard)
    })
  })
  try {
    return await within(done, WAIT_MS, `${n} events`)
  } finally {
    unsubscribe()
  }
}

/** Runs the JobEvents contract cases against the logs `factory` opens. */
export function jobEventsContract (t: Test, factory: JobEventsFactory): void {
  async function open (t: Test): Promise<JobEventsHarness> {
    const harness = await factory()
    t.teardown(harness.cleanup)
    return harness
  }

  t.test('publish: cursors order the owner\'s events; since returns exactly the later ones', async (t) => {
    const { events } = await open(t)
    const published: JobEvent[] = []
    for (const label of ['a', 'b', 'c']) published.push(await events.publish(input('alice', label)))
    t.same(published.map((e) => [e.kind, e.jobId, e.owner, e.batchId]), Array(3).fill(['progress', 'job-1', 'alice', null]))
    t.equal(new Set(published.map((e) => e.cursor)).size, 3, 'each event has its own cursor')
    t.same(labels(await events.since('alice', published[0]!.cursor)), ['b', 'c'])
    t.same(labels(await events.since('alice', published[1]!.cursor)), ['c'])
    t.same(await events.since('alice', published[2]!.cursor), [])
    const replayed = await events.since('alice', published[0]!.cursor)
    t.same(replayed?.map((e) => e.cursor), published.slice(1).map((e) => e.cursor), 'replayed events carry the cursors publish gave')
    t.ok(isCursorAfter(published[1]!.cursor, published[0]!.cursor) && isCursorAfter(published[2]!.cursor, published[1]!.cursor), 'each cursor is after the one before (isCursorAfter)')
    t.notOk(isCursorAfter(published[0]!.cursor, published[1]!.cursor), 'and an earlier one is not')
  })

  t.test('subscribe: hears events in publish order, also concurrent ones of one owner', async (t) => {
    const { events } = await open(t)
    const start = await events.head('alice')
    const heard = collect(events, 20)
    for (let i = 0; i < 10; i++) await events.publish(input('alice', `s${i}`))
    await Promise.all(Array.from({ length: 10 }, async (_, i) => await events.publish(input('alice', `c${i}`))))
    const got = await heard
    t.same(labels(got.slice(0, 10)), Array.from({ length: 10 }, (_, i) => `s${i}`))
    t.same(got.map((e) => e.cursor), (await events.since('alice', start))?.map((e) => e.cursor), 'heard in the order replay gives')
  })

  t.test('subscribe: a throwing listener stops neither the others nor the publisher', async (t) => {
    const { events } = await open(t)
    events.subscribe(() => { throw new Error('listener failure') })
    const heard = collect(events, 2)
    await events.publish(input('alice', 'one'))
    await events.publish(input('alice', 'two'))
    t.same(labels(await heard), ['one', 'two'])
  })

  t.test('subscribe: an unsubscribed listener hears nothing more', async (t) => {
    const { events } = await open(t)
    const late: JobEvent[] = []
    const unsubscribe = events.subscribe((e) => late.push(e))
    const first = collect(events, 1)
    await events.publish(input('alice', 'first'))
    await first
    unsubscribe()
    const second = collect(events, 1)
    await events.publish(input('alice', 'second'))
    await second
    t.same(labels(late), ['first'])
  })

  t.test('since: undefined for a cursor it cannot replay', async (t) => {
    const { events } = await open(t)
    const { cursor } = await events.publish(input('alice', 'a'))
    for (const garbage of ['', 'garbage', 'not a cursor', `${cursor}x`, `x${cursor}`, `${cursor}.${cursor}`]) {
      t.equal(await events.since('alice', garbage), undefined, `garbage cursor ${JSON.stringify(garbage)}`)
    }
  })

  t.test('since: undefined for a pruned cursor, exact after it', async (t) => {
    const harness = await open(t)
    if (harness.prune === undefined) { t.pass('skipped: the adapter cannot prune on demand'); return }
    const { events } = harness
    const published: JobEvent[] = []
    for (let i = 0; i < 5; i++) published.push(await events.publish(input('alice', `p${i}`)))
    const bobs = await events.publish(input('bob', 'b0'))
    await harness.prune(2)
    t.equal(await events.since('alice', published[0]!.cursor), undefined, 'p1 and p2 are gone: no silent gap')
    t.equal(await events.since('alice', published[1]!.cursor), undefined)
    t.same(labels(await events.since('alice', published[2]!.cursor)), ['p3', 'p4'])
    t.same(await events.since('bob', bobs.cursor), [], 'bob\'s history is his own')
  })

  t.test('head: replay from it returns exactly what is published after', async (t) => {
    const { events } = await open(t)
    t.same(await events.since('carol', await events.head('carol')), [], 'an owner with no events')
    await events.publish(input('alice', 'before'))
    const head = await events.head('alice')
    t.same(await events.since('alice', head), [])
    await events.publish(input('alice', 'after1'))
    await events.publish(input('alice', 'after2'))
    t.same(labels(await events.since('alice', head)), ['after1', 'after2'])
  })

  t.test('head: owners\' cursors are independent', async (t) => {
    const { events } = await open(t)
    await events.publish(input('bob', 'b0'))
    const bobHead = await events.head('bob')
    for (let i = 0; i < 5; i++) await events.publish(input('alice', `a${i}`, 'progress', 'job-a'))
    t.equal(await events.head('bob'), bobHead, 'bob\'s cursor does not move when alice works')
    t.same(await events.since('bob', bobHead), [])
    await events.publish(input('bob', 'b1'))
    t.same(labels(await events.since('bob', bobHead)), ['b1'])
  })

  t.test('requestCancel reaches onCancelRequest listeners', async (t) => {
    const { events } = await open(t)
    events.onCancelRequest(() => { throw new Error('listener failure') })
    const heard = new Promise<string>((resolve) => { events.onCancelRequest(resolve) })
    await events.requestCancel('job-42')
    t.equal(await within(heard, WAIT_MS, 'the cancel request'), 'job-42')
  })

  t.test('across nodes: delivery in order, cursors valid on every node, cancel', async (t) => {
    const harness = await open(t)
    if (harness.peer === undefined) { t.pass('skipped: the adapter has no second node'); return }
    const { events } = harness
    const other = await harness.peer()
    const heardThere = collect(other, 5)
    const heardHere = collect(events, 5)
    const job = makeJob()
    const published: JobEvent[] = []
    for (let i = 0; i < 5; i++) published.push(await events.publish({ ...input('alice', `x${i}`), job }))
    const there = await heardThere
    t.same(labels(there), ['x0', 'x1', 'x2', 'x3', 'x4'])
    t.same(there.map((e) => e.cursor), published.map((e) => e.cursor))
    t.equal(there[0]!.job, undefined, 'another node gets no record')
    t.same((await heardHere)[0]!.job, job, 'the publishing node\'s listeners get the record')
    t.same(labels(await other.since('alice', published[1]!.cursor)), ['x2', 'x3', 'x4'], 'a cursor from one node replays on another')
    const cancel = new Promise<string>((resolve) => { other.onCancelRequest(resolve) })
    await events.requestCancel('job-7')
    t.equal(await within(cancel, WAIT_MS, 'the cancel on the other node'), 'job-7')
  })

  t.test('close (twice)', async (t) => {
    const { events } = await open(t)
    await events.close()
    await events.close()
    t.pass('closed twice')
  })
}
