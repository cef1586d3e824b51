import { test } from 'tap'
import type { JobView } from '../../src/schemas/job.ts'
import { AUTH, build, deferred, startJob, TOKENS, waitForJob, waitForState, type Teardown } from '../helper.ts'
import { gatedJob, Gate, heldJob, listen } from '../sse/fixtures.ts'
import { dataOf, getPlain, openSse, type SseClient } from '../sse/sse-client.ts'

interface Snapshot { cursor: string, jobs: JobView[], batches: unknown[] }

// Opens a stream and closes it on teardown.
async function open (t: Teardown, url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await openSse(url, { headers })
  t.teardown(async () => { await client.close() })
  return client
}

test('/api/events: snapshot, then queued, started, progress, completed of a sleep job, in order, each with an id', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const client = await open(t, `${base}/api/events`, AUTH.alice)

  t.equal(client.status, 200)
  t.match(client.headers['content-type'], /^text\/event-stream/)
  t.match(client.headers['cache-control'], /no-cache/)
  t.match(client.headers['cache-control'], /no-transform/)
  t.equal(client.headers['x-accel-buffering'], 'no')

  const snapshot = await client.next()
  t.equal(snapshot.event, 'snapshot')
  t.equal(client.items[0]?.type, 'retry', 'a retry: hint comes first')
  const retry = client.items[0]?.type === 'retry' ? client.items[0].ms : 0
  t.ok(retry >= 2000 && retry < 3000, `retry hint with jitter (${retry} ms)`)
  t.same(dataOf<Snapshot>(snapshot).jobs, [])

  const job = await startJob(app, 'alice', 'sleep', { seconds: 0.3, steps: 6 })
  const completed = await client.next((e) => e.event === 'completed')
  const mine = client.events.slice(1)
  t.ok(mine.every((e) => dataOf<JobView>(e).id === job.id), 'only this job')
  const kinds = mine.map((e) => e.event)
  t.same(kinds.slice(0, 2), ['queued', 'started'])
  t.equal(kinds.at(-1), 'completed')
  const progress = mine.slice(2, -1)
  t.ok(progress.length >= 2, `several progress events (${progress.length})`)
  t.ok(progress.every((e) => e.event === 'progress'), 'only progress between started and completed')
  const currents = progress.map((e) => dataOf<JobView>(e).progress!.current)
  t.ok(currents.every((c, i) => i === 0 || c > currents[i - 1]!), `progress.current increases: ${currents.join(', ')}`)
  t.equal(currents.at(-1), 6, 'the last progress is the final step')
  t.same(dataOf<JobView>(completed).result, { slept: 0.3, steps: 6, resumedAt: 0 }, 'the result is in the last event')
  t.equal(dataOf<JobView>(completed).state, 'completed')

  const ids = client.events.map((e) => e.id)
  t.ok(ids.every((id) => id !== undefined && /^[a-z0-9]+-\d+$/.test(id)), 'every event has an id')
  const seqs = ids.map((id) => Number(id!.split('-')[1]))
  t.ok(seqs.every((s, i) => i === 0 || s === seqs[i - 1]! + 1), `ids are contiguous for this user: ${seqs.join(', ')}`)
})

test('/api/jobs/:id/events: ends by itself after the terminal event of a running job', async (t) => {
  const gate = new Gate()
  const app = await build(t, { progressIntervalMs: 0 }, [gatedJob(gate)])
  const base = await listen(app)
  const job = await startJob(app, 'alice', 'gated', { steps: 3 })
  await waitForState(app, 'alice', job.id, 'running')
  const client = await open(t, `${base}/api/jobs/${job.id}/events`, AUTH.alice)
  const snapshot = await client.next()
  t.equal(snapshot.event, 'snapshot')
  t.equal(dataOf<JobView>(snapshot).state, 'running')
  gate.release(3)
  await client.ended
  t.same(client.events.map((e) => e.event), ['snapshot', 'progress', 'progress', 'progress', 'completed'], 'ends right after completed')
})

test('/api/jobs/:id/events: a finished job gets its snapshot and the stream closes; a reconnect after the end gets 204', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const job = await startJob(app, 'alice', 'sleep', { seconds: 0.01, steps: 1 })
  await waitForState(app, 'alice', job.id, 'completed')
  const client = await open(t, `${base}/api/jobs/${job.id}/events`, AUTH.alice)
  await client.ended
  t.same(client.events.map((e) => e.event), ['snapshot'])
  const view = dataOf<JobView>(client.events[0]!)
  t.equal(view.state, 'completed')
  const res = await app.inject({ url: `/api/jobs/${job.id}`, headers: AUTH.alice })
  t.same(view, res.json(), 'the snapshot is the job as GET /api/jobs/:id shows it')

  const again = await getPlain(`${base}/api/jobs/${job.id}/events`, { headers: { ...AUTH.alice, 'last-event-id': client.lastEventId! } })
  t.equal(again.status, 204, 'EventSource stops reconnecting')
  t.equal(again.body, '')
})

test('/api/jobs/:id/events: a reconnect mid-job replays the missed events of that job only, then ends with it', async (t) => {
  const gate = new Gate()
  const app = await build(t, { progressIntervalMs: 0 }, [gatedJob(gate)])
  const base = await listen(app)
  const job = await startJob(app, 'alice', 'gated', { steps: 4 })
  const first = await open(t, `${base}/api/jobs/${job.id}/events`, AUTH.alice)
  await first.next((e) => e.event === 'snapshot')
  gate.release(1)
  await first.next((e) => e.event === 'progress')
  await first.close()
  await startJob(app, 'alice', 'sleep', { seconds: 0.01, steps: 1 }) // another job's events fall in between
  gate.release(3)
  await waitForState(app, 'alice', job.id, 'completed')
  const second = await open(t, `${base}/api/jobs/${job.id}/events`, { ...AUTH.alice, 'last-event-id': first.lastEventId! })
  await second.ended
  t.same(second.events.map((e) => [e.event, dataOf<JobView>(e).progress?.current]), [['progress', 2], ['progress', 3], ['progress', 4], ['completed', 4]])
  t.ok(second.events.every((e) => dataOf<JobView>(e).id === job.id))
})

test('errors: bob opening alice\'s job stream gets 404 JSON; no token gets 401; a bad token gets 401', async (t) => {
  const release = deferred()
  const app = await build(t, {}, [heldJob(release.promise)])
  t.teardown(() => { release.resolve() })
  const base = await listen(app)
  const job = await startJob(app, 'alice', 'held', {})

  const bob = await getPlain(`${base}/api/jobs/${job.id}/events`, { headers: AUTH.bob })
  t.equal(bob.status, 404)
  t.match(bob.headers['content-type'], /^application\/json/)
  t.match(JSON.parse(bob.body), { code: 'JOB_NOT_FOUND' })

  for (const url of ['/api/events', `/api/jobs/${job.id}/events`]) {
    const anonymous = await getPlain(`${base}${url}`)
    t.equal(anonymous.status, 401, `${url} without a token`)
    t.match(anonymous.headers['content-type'], /^application\/json/)
    t.match(JSON.parse(anonymous.body), { code: 'UNAUTHORIZED' })
    const forged = await getPlain(`${base}${url}`, { headers: { authorization: 'Bearer not-a-real-token' } })
    t.equal(forged.status, 401, `${url} with a bad token`)
  }
})

test('the session cookie authenticates /api/events without an Authorization header (as EventSource does)', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const login = await app.inject({ method: 'POST', url: '/api/session', payload: { token: TOKENS.bob } })
  t.equal(login.statusCode, 200)
  const cookie = String(login.headers['set-cookie']).split(';')[0]!
  t.match(cookie, /^jobcast_session=/)
  const client = await open(t, `${base}/api/events`, { cookie })
  t.equal(client.status, 200)
  await client.next((e) => e.event === 'snapshot')
  const job = await startJob(app, 'bob', 'sleep', { seconds: 0.01, steps: 1 })
  const done = await client.next((e) => e.event === 'completed')
  t.equal(dataOf<JobView>(done).id, job.id)
  t.equal(dataOf<JobView>(done).owner, 'bob')
})

test('GET /api/progress then /api/events?lastEventId=<cursor>: exactly the events after the poll, no gap, no duplicate', async (t) => {
  const gate = new Gate()
  const app = await build(t, { progressIntervalMs: 0 }, [gatedJob(gate)])
  const base = await listen(app)
  const before = await startJob(app, 'alice', 'gated', { steps: 2 })
  gate.release(1)
  await waitForJob(app, 'alice', before.id, (job) => job.progress?.current === 1)
  const poll = await app.inject({ url: '/api/progress', headers: AUTH.alice })
  const { cursor, jobs } = poll.json<{ cursor: string, jobs: JobView[] }>()
  t.match(cursor, /^[a-z0-9]+-\d+$/)
  t.same(jobs.map((j) => j.id), [before.id])

  // Events after the poll: the end of `before`, and all of a new job.
  gate.release(1)
  const after = await startJob(app, 'alice', 'sleep', { seconds: 0.02, steps: 2 })
  await waitForState(app, 'alice', before.id, 'completed')
  await waitForState(app, 'alice', after.id, 'completed')
  const expected = (await app.jobcast.service.events.since('alice', cursor))!
  t.ok(expected.length >= 6, `events since the poll (${expected.length})`)

  const client = await open(t, `${base}/api/events?lastEventId=${encodeURIComponent(cursor)}`, AUTH.alice)
  await client.next((e) => e.id === expected.at(-1)!.cursor)
  t.same(client.events.map((e) => e.id), expected.map((e) => e.cursor), 'the replay is the events after the poll')
  t.notOk(client.events.some((e) => e.event === 'snapshot'), 'no snapshot: nothing was lost')
  const firstOfBefore = client.events.find((e) => dataOf<JobView>(e).id === before.id)
  t.equal(dataOf<JobView>(firstOfBefore!).progress?.current, 2, 'the progress the poll saw is not repeated')
})

test('heartbeat comments arrive on an idle stream', async (t) => {
  const app = await build(t, { heartbeatMs: 1000 })
  const base = await listen(app)
  const client = await open(t, `${base}/api/events`, AUTH.alice)
  await client.next((e) => e.event === 'snapshot')
  const comment = await client.nextComment()
  t.equal(comment, 'heartbeat')
})
