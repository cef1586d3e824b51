import { once } from 'node:events'
import { test } from 'tap'
import type { JobView } from '../../src/schemas/job.ts'
import { pollUntil, startChildServer } from '../child-server.ts'
import { tempDataDir, TOKENS } from '../helper.ts'

const AUTH = { authorization: `Bearer ${TOKENS.alice}` }

test('SIGTERM: the server exits after the grace period; the unfinished job runs again on the next start, same attempt', async (t) => {
  const env = { JOBCAST_DATA_DIR: tempDataDir(t), JOBCAST_TOKENS: `alice:${TOKENS.alice}`, JOBCAST_SHUTDOWN_GRACE_MS: '200' }
  const first = await startChildServer(t, env)
  const res = await fetch(`${first.url}/api/jobs/sleep`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ seconds: 4, steps: 40 }) })
  const { id } = await res.json() as JobView
  const get = async (url: string): Promise<JobView> => await (await fetch(`${url}/api/jobs/${id}`, { headers: AUTH })).json() as JobView
  await pollUntil(async () => { const job = await get(first.url); return (job.progress?.current ?? 0) >= 2 ? job : undefined }, 'two steps done')

  const exited = once(first.process, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  first.process.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 0, 'a clean exit, not a crash')
  t.match(first.output(), /shutting down/)

  const second = await startChildServer(t, env)
  const done = await pollUntil(async () => { const job = await get(second.url); return job.state === 'completed' || job.state === 'failed' ? job : undefined }, 'the job to finish', 30_000)
  t.equal(done.state, 'completed')
  t.equal(done.attempt, 1, 'a shutdown does not count as an attempt')
  t.ok((done.result as { resumedAt: number }).resumedAt >= 2, 'it went on from its checkpoint')
})
