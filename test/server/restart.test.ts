import { test } from 'tap'
import { newId } from '../../src/lib/ids.ts'
import type { JobView } from '../../src/schemas/job.ts'
import type { JobRecord } from '../../src/core/model.ts'
import { pollUntil, startChildServer } from '../child-server.ts'
import { build, seedJobs, tempDataDir, TOKENS, waitForState } from '../helper.ts'

const AUTH = { authorization: `Bearer ${TOKENS.alice}` }

// The server is another process: poll its snapshot until `until` holds.
async function pollJob (base: string, id: string, until: (job: JobView) => boolean): Promise<JobView> {
  return await pollUntil(async () => {
    const job = await (await fetch(`${base}/api/jobs/${id}`, { headers: AUTH })).json() as JobView
    return until(job) ? job : undefined
  }, `job ${id}`)
}

async function start (base: string, input: unknown): Promise<JobView> {
  const res = await fetch(`${base}/api/jobs/sleep`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify(input) })
  if (res.status !== 202) throw new Error(`start answered ${res.status}: ${await res.text()}`)
  return await res.json() as JobView
}

test('kill -9 while a job runs: after a restart it resumes (attempt 2, from its checkpoint) and nothing accepted is lost', async (t) => {
  const env = { JOBCAST_DATA_DIR: tempDataDir(t), JOBCAST_TOKENS: `alice:${TOKENS.alice}`, JOBCAST_USER_CONCURRENCY: '1' }
  const first = await startChildServer(t, env)
  let base = first.url

  const long = await start(base, { seconds: 2, steps: 20 })
  const waiting = [await start(base, { seconds: 0.1, steps: 2 }), await start(base, { seconds: 0.1, steps: 2 }), await start(base, { seconds: 0.1, steps: 2 })]
  const before = await pollJob(base, long.id, (job) => job.state === 'running' && (job.progress?.current ?? 0) >= 3)
  t.equal(before.attempt, 1)
  for (const job of waiting) t.equal((await pollJob(base, job.id, () => true)).state, 'queued', 'one at a time for alice: these wait')

  await first.kill()
  base = (await startChildServer(t, env)).url

  const resumed = await pollJob(base, long.id, (job) => job.state !== 'queued' && job.state !== 'running')
  t.equal(resumed.state, 'completed')
  t.equal(resumed.attempt, 2, 'the interrupted attempt counts')
  const result = resumed.result as { steps: number, resumedAt: number }
  t.equal(result.steps, 20)
  t.ok(result.resumedAt >= 3, `resumed after its last checkpoint (step ${result.resumedAt}), not from the start`)
  for (const job of waiting) {
    const done = await pollJob(base, job.id, (j) => j.state !== 'queued' && j.state !== 'running')
    t.equal(done.state, 'completed', `queued job ${job.id} ran after the restart`)
    t.equal(done.attempt, 1)
  }
  const list = await (await fetch(`${base}/api/jobs`, { headers: AUTH })).json() as { items: JobView[] }
  t.equal(list.items.length, 4, 'all four accepted jobs are there')
})

function runningRecord (overrides: Partial<JobRecord>): JobRecord {
  const now = Date.now()
  return {
    id: newId(), type: 'sleep', owner: 'alice', state: 'running', input: { seconds: 0.04, steps: 4 }, progress: null, result: null, error: null, preview: null, files: [],
    checkpoint: null, attempt: 1, maxAttempts: 3, createdAt: now - 1000, startedAt: now - 500, finishedAt: null, runAt: now - 1000, batchId: null, idempotencyKey: null, requestHash: null, lease: null, version: 1,
    ...overrides
  }
}

test('on start, a job left running with no attempt left fails with INTERRUPTED; one with attempts left resumes', async (t) => {
  const dataDir = tempDataDir(t)
  const spent = runningRecord({ attempt: 3, maxAttempts: 3 })
  const resumable = runningRecord({ checkpoint: { state: 2 } })
  seedJobs(dataDir, [spent, resumable])

  const app = await build(t, { dataDir })
  const failed = (await app.jobcast.get('alice', spent.id))!
  t.equal(failed.state, 'failed')
  t.equal(failed.error?.code, 'INTERRUPTED')
  t.match(failed.error?.message, /attempt 3 of 3/)
  t.ok(failed.finishedAt !== null)

  const done = await waitForState(app, 'alice', resumable.id, 'completed', 'failed')
  t.equal(done.state, 'completed')
  t.equal(done.attempt, 2)
  t.same(done.result, { slept: 0.04, steps: 4, resumedAt: 2 })
})
