import { test } from 'tap'
import type { JobView } from '../../src/schemas/job.ts'
import { build, waitForState } from '../helper.ts'
import { listen } from './fixtures.ts'
import { dataOf, openSse, type SseClient } from './sse-client.ts'

const USERS = Array.from({ length: 50 }, (_, i) => (i === 0 ? 'alice' : `user${String(i).padStart(2, '0')}`))
const tokenOf = (user: string): string => `token-${user}-secret`
const auth = (user: string): Record<string, string> => ({ authorization: `Bearer ${tokenOf(user)}` })

test('with 50 users running jobs at once, each stream carries all of its user\'s jobs and nobody else\'s', async (t) => {
  const app = await build(t, { tokens: USERS.map((user) => ({ user, token: tokenOf(user) })), concurrency: 64, userConcurrency: 2 })
  const base = await listen(app)
  const clients = new Map<string, SseClient>()
  for (const user of USERS) {
    const client = await openSse(`${base}/api/events`, { headers: auth(user) })
    t.teardown(async () => { await client.close() })
    await client.next((e) => e.event === 'snapshot')
    clients.set(user, client)
  }

  // Two short jobs per user, all started before any is awaited.
  const started = await Promise.all(USERS.flatMap((user) => [1, 2].map(async () => {
    const res = await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers: auth(user), payload: { seconds: 0.05, steps: 3 } })
    if (res.statusCode !== 202) throw new Error(`start for ${user} answered ${res.statusCode}: ${res.body}`)
    return { user, id: res.json<JobView>().id }
  })))
  t.ok(app.jobcast.service.runner.running + (await app.jobcast.service.store.countQueued('alice')) > 50, 'many jobs in flight at once')
  await Promise.all(started.map(async ({ user, id }) => await waitForState(app, user, id, 'completed')))

  for (const user of USERS) {
    const client = clients.get(user)!
    const mine = new Set(started.filter((s) => s.user === user).map((s) => s.id))
    // Each of the user's jobs completed on its stream: everything sent before is in too (one ordered connection).
    const completed = new Set<string>()
    while (completed.size < mine.size) completed.add(dataOf<JobView>(await client.next((e) => e.event === 'completed')).id)
    const jobEvents = client.events.filter((e) => e.event !== 'snapshot')
    const seen = new Set(jobEvents.map((e) => dataOf<JobView>(e).id))
    const owners = new Set(jobEvents.map((e) => dataOf<JobView>(e).owner))
    if (user === 'alice' || user === 'user49') {
      t.same([...seen].sort(), [...mine].sort(), `${user}'s stream: exactly ${user}'s jobs`)
      t.same([...owners], [user], `${user}'s stream: only ${user}'s events`)
    } else if (!(seen.size === mine.size && [...seen].every((id) => mine.has(id)) && owners.size === 1 && owners.has(user))) {
      t.fail(`${user}'s stream carried ${[...seen].join(',')} (owners ${[...owners].join(',')}), expected ${[...mine].join(',')}`)
    }
  }
  t.pass('all 50 streams checked')
})
