import { test } from 'tap'
import { createClient, JobcastRequestError, SseParser, type ConnectionState, type FeedEvent, type JobView } from '../../src/client/index.ts'
import { TOKENS } from '../helper.ts'
import { startLiveServer } from '../dashboard/live-server.ts'

/** Resolves when `predicate` holds for an item pushed to `list` (checked on each push), or rejects after `ms`. */
function until<T> (list: T[], predicate: (item: T) => boolean, ms = 15_000): Promise<T> {
  const found = list.find(predicate)
  if (found !== undefined) return Promise.resolve(found)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`timed out after ${ms} ms`)) }, ms)
    const push = list.push.bind(list)
    list.push = (...items: T[]) => {
      const n = push(...items)
      const hit = items.find(predicate)
      if (hit !== undefined) {
        clearTimeout(timer)
        list.push = push
        resolve(hit)
      }
      return n
    }
  })
}

const jobsOf = (event: FeedEvent): JobView[] => event.kind === 'snapshot' ? event.jobs : 'job' in event ? [event.job] : []

test('the SSE parser takes chunks cut anywhere, CRLF across chunks included', async (t) => {
  const items: unknown[] = []
  const parser = new SseParser((item) => items.push(item))
  const wire = 'retry: 2500\r\n\r\n: hi\r\nid: a-1\r\nevent: progress\r\ndata: {"x":1}\r\n\r\nid: a-2\ndata: one\ndata: two\n\n'
  for (let i = 0; i < wire.length; i += 3) parser.push(wire.slice(i, i + 3))
  t.same(items, [{ ms: 2500 }, { id: 'a-1', event: 'progress', data: '{"x":1}' }, { id: 'a-2', event: 'message', data: 'one\ntwo' }])
})

test('watchAll resumes after a forced disconnect from its last cursor: no gap, no repeat', async (t) => {
  const { app, base, outage } = await startLiveServer(t, { progressIntervalMs: 20 })
  const client = createClient({ baseUrl: base, token: TOKENS.alice, reconnectMinMs: 100 })
  const events: FeedEvent[] = []
  const states: ConnectionState[] = []
  const watch = client.watchAll((e) => events.push(e), { onConnection: (s) => states.push(s) })
  t.teardown(() => { watch.close() })
  await until(states, (s) => s === 'live')
  const steps = 30
  const job = await client.startJob('sleep', { seconds: steps * 0.1, steps })
  await until(events, (e) => e.kind === 'progress' && e.job.id === job.id && e.job.progress!.current >= 5)
  // The reconnect after the drop is the next stream request (it may come before this test looks again:
  // polling while the stream is down is the next test's subject).
  const resumedAt = outage.streamRequests.length
  app.jobcast.streams.dropAll()
  await until(events, (e) => e.kind === 'completed' && e.job.id === job.id)

  const back = outage.streamRequests[resumedAt]!
  t.ok(back.lastEventId !== undefined, 'the reconnect carried a cursor')
  t.ok(await app.jobcast.service.events.since('alice', back.lastEventId!) !== undefined, 'one the server replays from')
  const cursors = events.map((e) => e.cursor)
  t.same(cursors, [...new Set(cursors)], 'no event twice')
  // Every progress the client saw of the job (by progress event or poll), and whether a poll brought it.
  const seen = events.filter((e) => e.kind === 'progress' || e.kind === 'snapshot').flatMap((e) => jobsOf(e).filter((j) => j.id === job.id && j.progress !== null)
    .map((j) => ({ current: j.progress!.current, polled: e.kind === 'snapshot' && e.source === 'poll' })))
  t.comment(`seen: ${seen.map((s) => `${s.current}${s.polled ? 'p' : ''}`).join(' ')}`)
  // Polls may skip steps; the stream, resumed from the last cursor, never skips one nor repeats one.
  for (let i = 1; i < seen.length; i++) {
    const { current, polled } = seen[i]!
    const before = seen[i - 1]!.current
    if (current <= before) t.fail(`progress went from ${before} to ${current}`)
    if (!polled && current !== before + 1) t.fail(`the stream went from step ${before} to ${current}`)
  }
  t.ok(seen.some((s) => s.polled), 'a poll came between')
  t.equal(seen.at(-1)!.current, steps, 'to the last step')
  t.equal(states.at(-1), 'live')
})

test('with api/events unavailable, the client polls api/progress, and goes live when the stream is back', async (t) => {
  const { base, outage } = await startLiveServer(t, { progressIntervalMs: 20 })
  outage.start()
  const client = createClient({ baseUrl: base, token: TOKENS.alice, pollIntervalMs: 200, reconnectMinMs: 100, reconnectMaxMs: 500 })
  const states: ConnectionState[] = []
  const events: FeedEvent[] = []
  const all = client.watchAll((e) => events.push(e), { onConnection: (s) => states.push(s) })
  t.teardown(() => { all.close() })
  await until(states, (s) => s === 'polling')
  const job = await client.startJob('sleep', { seconds: 0.6, steps: 3 })
  const updates: JobView[] = []
  const done = await client.watchJob(job.id, (j) => updates.push(j)).done
  t.equal(done.state, 'completed', 'watchJob saw the end by polling')
  t.ok(outage.polls.length >= 2, 'polled api/progress')
  t.ok(events.every((e) => e.kind === 'snapshot' && e.source === 'poll'), 'every update came from polls')
  t.ok(outage.streamRequests.filter((r) => r.refused).length >= 2, 'and it kept trying the stream')
  t.notOk(states.includes('live'))
  outage.end()
  await until(states, (s) => s === 'live')
  const after = await client.startJob('sleep', { seconds: 0, steps: 1 })
  await until(events, (e) => e.kind === 'completed' && e.job.id === after.id)
  t.pass('live again: events over the stream')
})

test('startJob with files, cancelJob, and errors with the server\'s code', async (t) => {
  const { base } = await startLiveServer(t)
  const client = createClient({ baseUrl: base, token: TOKENS.alice })
  const csv = new Blob(['a,b\n1,x\n2,y\n'], { type: 'text/csv' })
  const job = await client.startJob('csv-profile', {}, [Object.assign(csv, { name: 'small.csv' })])
  t.same(job.files.map((f) => f.name), ['small.csv'])
  const done = await client.watchJob(job.id, () => {}).done
  t.equal(done.state, 'completed')
  t.ok(done.artifacts.length > 0, 'with artifacts')
  const download = await fetch(client.artifactUrl(job.id, done.artifacts[0]!.name), { headers: { authorization: `Bearer ${TOKENS.alice}` } })
  t.equal(download.status, 200)

  const sleeper = await client.startJob('sleep', { seconds: 30, steps: 30 })
  const canceled = client.watchJob(sleeper.id, () => {}).done
  await client.cancelJob(sleeper.id)
  t.equal((await canceled).state, 'canceled')
  const err = await client.startJob('sleep', { seconds: -1 }).catch((e: unknown) => e)
  t.ok(err instanceof JobcastRequestError)
  t.equal((err as JobcastRequestError).code, 'INVALID_INPUT')
  t.equal((err as JobcastRequestError).status, 400)
  t.same(await client.listBatches(), [], 'the batches API answers: none yet')
})
