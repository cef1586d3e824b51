import { test } from 'tap'
import type { JobView } from '../../src/schemas/job.ts'
import { AUTH, build, startJob } from '../helper.ts'
import { floodJob, listen } from './fixtures.ts'
import { dataOf, openSse } from './sse-client.ts'

const CALLS = 1_000_000
const INTERVAL_MS = 50

test('a job calling progress 1,000,000 times sends at most one progress event per interval, and the final value last', async (t) => {
  const app = await build(t, { progressIntervalMs: INTERVAL_MS }, [floodJob()])
  const base = await listen(app)
  const client = await openSse(`${base}/api/events`, { headers: AUTH.alice })
  t.teardown(async () => { await client.close() })
  await client.next((e) => e.event === 'snapshot')

  const job = await startJob(app, 'alice', 'flood', { calls: CALLS })
  const completed = dataOf<JobView>(await client.next((e) => e.event === 'completed' && dataOf<JobView>(e).id === job.id))
  const events = client.events.filter((e) => e.event !== 'snapshot')
  const progress = events.filter((e) => e.event === 'progress').map((e) => dataOf<JobView>(e).progress!.current)

  // The server's own clock: from the start of the run to its end.
  const durationMs = Date.parse(completed.finishedAt!) - Date.parse(completed.startedAt!)
  const bound = Math.floor(durationMs / INTERVAL_MS) + 2
  t.ok(progress.length >= 1, `some progress (${progress.length} events)`)
  t.ok(progress.length <= bound, `${progress.length} progress events in ${durationMs} ms: at most ${bound}`)
  t.ok(progress.every((c, i) => i === 0 || c > progress[i - 1]!), 'current only increases')
  t.equal(events.at(-2)?.event, 'progress', 'a progress event comes right before completed')
  t.equal(progress.at(-1), CALLS, 'the last progress is the final value')
  t.equal(completed.progress?.current, CALLS)
  t.same(events.map((e) => e.event).filter((k) => k !== 'progress'), ['queued', 'started', 'completed'], 'state changes all there')
})
