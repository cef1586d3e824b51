import type { FastifyInstance } from 'fastify'
import type { MemoryJobEvents } from '../../src/adapters/memory/memory-job-events.ts'
import { test } from 'tap'
import type { JobView } from '../../src/schemas/job.ts'
import { AUTH, build, recordEvents, startJob, waitForJob, waitForState, type Teardown } from '../helper.ts'
import { Gate, gatedJob, listen, trackServerSockets } from './fixtures.ts'
import { dataOf, openSse, type SseClient, type SseEvent } from './sse-client.ts'

interface Snapshot { cursor: string, jobs: JobView[] }

async function open (t: Teardown, url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await openSse(url, { headers })
  t.teardown(async () => { await client.close() })
  return client
}

const seqOf = (id: string | undefined): number => Number(id!.split('-')[1])

for (const via of ['Last-Event-ID header', '?lastEventId= query'] as const) {
  test(`a disconnect mid-job and a resume with the ${via}: every event exactly once across both connections`, async (t) => {
    const gate = new Gate()
    const app = await build(t, { progressIntervalMs: 0 }, [gatedJob(gate)])
    const base = await listen(app)
    const bus = recordEvents(t, app)

    const first = await open(t, `${base}/api/events`, AUTH.alice)
    const snapshot = await first.next()
    t.equal(snapshot.event, 'snapshot')
    const job = await startJob(app, 'alice', 'gated', { steps: 9 })
    gate.release(3)
    await first.next((e) => e.event === 'progress' && dataOf<JobView>(e).progress?.current === 3)
    await first.close()

    // Events while nobody listens: three steps, then another of alice's jobs from start to end.
    gate.release(3)
    await waitForJob(app, 'alice', job.id, (j) => j.progress?.current === 6)
    const other = await startJob(app, 'alice', 'sleep', { seconds: 0.01, steps: 1 })
    await waitForState(app, 'alice', other.id, 'completed')

    const resumeFrom = first.lastEventId!
    const second = via === 'Last-Event-ID header'
      ? await open(t, `${base}/api/events`, { ...AUTH.alice, 'last-event-id': resumeFrom })
      : await open(t, `${base}/api/events?lastEventId=${encodeURIComponent(resumeFrom)}`, AUTH.alice)
    gate.release(3)
    await second.next((e) => e.event === 'completed' && dataOf<JobView>(e).id === job.id)

    const received: SseEvent[] = [...first.events.slice(1), ...second.events]
    t.notOk(second.events.some((e) => e.event === 'snapshot'), 'the resume replays instead of sending a snapshot')
    const ids = received.map((e) => e.id)
    t.equal(new Set(ids).size, ids.length, 'no event twice')
    const seqs = ids.map(seqOf)
    t.ok(seqs.every((s, i) => s === seqOf(snapshot.id) + i + 1), `ids contiguous from the snapshot: ${seqs.join(',')}`)
    const sent = bus.map((e) => `${e.kind}:${e.job.id}:${e.job.progress?.current ?? '-'}`)
    const got = received.map((e) => `${e.event}:${dataOf<JobView>(e).id}:${dataOf<JobView>(e).progress?.current ?? '-'}`)
    t.same(got, sent, 'exactly the events the bus carried, in order')
    t.same(ids, (await events(app).since('alice', snapshot.id!))!.map((e) => e.cursor), 'exactly the events the log published')
  })
}

// The in-process event log of the app (the embedded default).
function events (app: FastifyInstance): MemoryJobEvents {
  return app.jobcast.service.events as MemoryJobEvents
}

test('a cursor older than the replay buffer, or from another run, gets a fresh snapshot matching GET /api/jobs/:id', async (t) => {
  const app = await build(t, { replayBuffer: 5 })
  const base = await listen(app)
  const first = await open(t, `${base}/api/events`, AUTH.alice)
  const snapshot = await first.next()
  await first.close()
  const job = await startJob(app, 'alice', 'sleep', { seconds: 0.08, steps: 8 })
  await waitForState(app, 'alice', job.id, 'completed')
  t.equal(await events(app).since('alice', snapshot.id!), undefined, 'more than 5 events since: the cursor is too old')

  const view = (await app.inject({ url: `/api/jobs/${job.id}`, headers: AUTH.alice })).json<JobView>()
  // A cursor one event back, which this run could replay: only its epoch says it is from another run.
  const recent = seqOf(await events(app).head('alice')) - 1
  t.ok((await events(app).since('alice', `${events(app).epoch}-${recent}`))?.length === 1, 'the same seq of this run replays')
  const otherRun = `${events(app).epoch === 'zz' ? 'yy' : 'zz'}-${recent}`
  for (const cursor of [snapshot.id!, otherRun]) {
    const client = await open(t, `${base}/api/events`, { ...AUTH.alice, 'last-event-id': cursor })
    const fresh = await client.next()
    t.equal(fresh.event, 'snapshot', `cursor ${cursor}: a snapshot`)
    const { jobs, cursor: now } = dataOf<Snapshot>(fresh)
    t.equal(now, fresh.id, 'the snapshot carries its own cursor')
    const { input: _input, preview: _preview, ...summary } = view
    t.same(jobs.find((j) => j.id === job.id), summary, 'the job as GET /api/jobs/:id shows it, less its input and preview')
    await client.close()
  }
})

test('after an idle channel is swept, a cursor from just before the next event still replays it (no needless snapshot)', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const sockets = trackServerSockets(app)
  const first = await open(t, `${base}/api/events`, AUTH.alice)
  const snapshot = await first.next()
  await first.close()
  await sockets.allClosed()
  events(app).sweep(Date.now() + 24 * 3_600_000)
  t.equal(events(app).retained('alice'), 0, 'alice\'s kept events are gone')
  const job = await startJob(app, 'alice', 'sleep', { seconds: 0.01, steps: 1 })
  await waitForState(app, 'alice', job.id, 'completed')
  const second = await open(t, `${base}/api/events`, { ...AUTH.alice, 'last-event-id': snapshot.id! })
  t.equal((await second.next()).event, 'queued', 'a replay, not a snapshot')
  await second.next((e) => e.event === 'completed')
  t.same(second.events.map((e) => e.event), ['queued', 'started', 'progress', 'completed'], 'the events, replayed')
})
