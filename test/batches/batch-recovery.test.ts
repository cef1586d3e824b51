import { test } from 'tap'
import type { BatchView } from '../../src/schemas/batch.ts'
import { pollUntil, startChildServer } from '../child-server.ts'
import { AUTH, tempDataDir, TOKENS } from '../helper.ts'
import { getBatch, sendBatch } from './batch-fixtures.ts'

// CSVs big enough (~4 MB) that one takes a noticeable time to inspect, so the kill lands mid-batch.
function bigCsv (i: number): { name: string, body: string } {
  return { name: `part-${i}.csv`, body: 'id,name,amount\n' + Array.from({ length: 150_000 }, (_, r) => `${r},name ${r},${r}.25`).join('\n') + '\n' }
}

test('SIGKILL halfway through a batch, restart: the batch completes, no finished file runs again, none is lost', async (t) => {
  const env = { JOBCAST_DATA_DIR: tempDataDir(t), JOBCAST_TOKENS: `alice:${TOKENS.alice}`, JOBCAST_USER_CONCURRENCY: '1', JOBCAST_LEASE_MS: '1000' }
  const first = await startChildServer(t, env)
  const files = Array.from({ length: 16 }, (_, i) => bigCsv(i))
  const res = await sendBatch(first.url, 'documents', files)
  t.equal(res.status, 202)
  const { id } = await res.json() as BatchView

  const before = await pollUntil(async () => {
    const batch = await getBatch(first.url, id)
    return batch.completed >= 4 && !batch.done ? batch : undefined
  }, 'a batch partly done', 60_000)
  await first.kill()
  const finishedBefore = new Map(before.jobs.filter((j) => j.state === 'completed').map((j) => [j.id, j]))

  const second = await startChildServer(t, env)
  const after = await pollUntil(async () => {
    const batch = await getBatch(second.url, id)
    return batch.done ? batch : undefined
  }, 'the batch done after the restart', 60_000)
  t.match(after, { total: 16, completed: 16, failed: 0, canceled: 0, succeeded: true })
  t.same(after.jobs.map((j) => j.files[0]!.name), files.map((f) => f.name), 'every file is there, once')
  for (const job of after.jobs) {
    const earlier = finishedBefore.get(job.id)
    if (earlier === undefined) continue
    t.same([job.version, job.startedAt, job.finishedAt, job.attempt], [earlier.version, earlier.startedAt, earlier.finishedAt, earlier.attempt], `${job.files[0]!.name} finished before the kill and did not run again`)
  }
  t.ok(after.jobs.every((j) => (j.result as { csv: { rows: number } }).csv.rows === 150_000), 'every file has its result')
  const csv = await (await fetch(`${second.url}/api/batches/${id}/results.csv`, { headers: AUTH.alice })).text()
  t.equal(csv.trimEnd().split('\r\n').length, 17, 'the export has one row per file')
})
