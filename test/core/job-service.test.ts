import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { Type } from 'typebox'
import { defineJob, type JobDefinition } from '../../src/core/define-job.ts'
import { build, readJob, startJob, tempDataDir, untilAborted, waitForState } from '../helper.ts'

const DAY = 86_400_000

test('timeout: an attempt longer than timeoutMs is aborted and fails with TIMEOUT', async (t) => {
  const reasons: unknown[] = []
  const slow = defineJob({
    type: 'slow',
    input: Type.Object({}),
    timeoutMs: 50,
    async run (ctx) {
      try {
        return await untilAborted(ctx.signal)
      } finally {
        reasons.push((ctx.signal.reason as { code?: unknown }).code)
      }
    }
  }) as JobDefinition
  const app = await build(t, {}, [slow])
  const job = await startJob(app, 'alice', 'slow', {})
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed', 'canceled')
  t.equal(done.state, 'failed')
  t.equal(done.error?.code, 'TIMEOUT')
  t.match(done.error?.message, /50 ms/)
  t.same(reasons, ['TIMEOUT'], 'the handler saw its signal abort with TIMEOUT')
  t.ok(done.finishedAt! - done.startedAt! >= 50)
})

test('graceful stop: a job still running past shutdownGraceMs goes back to queued, same attempt, checkpoint kept', async (t) => {
  const dataDir = tempDataDir(t)
  const long = defineJob({
    type: 'long',
    input: Type.Object({ ms: Type.Integer() }),
    async run (ctx) {
      ctx.checkpoint({ at: 'half' })
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, ctx.input.ms)
        ctx.signal.addEventListener('abort', () => { clearTimeout(timer); reject(ctx.signal.reason) }, { once: true })
      })
      return 'finished'
    }
  }) as JobDefinition
  const app = await build(t, { dataDir, shutdownGraceMs: 150, userConcurrency: 2 }, [long])
  const longJob = await startJob(app, 'alice', 'long', { ms: 60_000 })
  const shortJob = await startJob(app, 'alice', 'long', { ms: 20 })
  const waiting = await startJob(app, 'alice', 'long', { ms: 20 })
  await waitForState(app, 'alice', longJob.id, 'running')
  // Under load the short job may be done already.
  await waitForState(app, 'alice', shortJob.id, 'running', 'completed')

  const closing = Date.now()
  await app.close()
  t.ok(Date.now() - closing < 5000, 'close did not wait for the long job')
  const refused = await app.jobcast.submit('alice', 'long', { ms: 1 }).then(() => 'accepted', (err: { code?: string }) => err.code)
  t.equal(refused, 'SHUTTING_DOWN', 'no new job once stopping')

  const stopped = readJob(dataDir, longJob.id)!
  t.equal(stopped.state, 'queued', 'back to queued for the next start')
  t.equal(stopped.attempt, 1, 'a shutdown does not use up an attempt')
  t.same(stopped.checkpoint, { state: { at: 'half' }, steps: {} })
  t.equal(readJob(dataDir, shortJob.id)!.state, 'completed', 'a job that ended within the grace period completed')
  t.equal(readJob(dataDir, waiting.id)!.state, 'queued', 'a job that had not started stays queued')
})

test('retention: sweep(now) deletes finished jobs past the retention, with their files, and keeps unfinished ones', async (t) => {
  const dataDir = tempDataDir(t)
  const maker = defineJob({
    type: 'maker',
    input: Type.Object({ hold: Type.Optional(Type.Boolean()) }),
    async run (ctx) {
      await ctx.artifact('out.txt', 'x')
      if (ctx.input.hold === true) await untilAborted(ctx.signal)
      return null
    }
  }) as JobDefinition
  const app = await build(t, { dataDir, shutdownGraceMs: 0, retentionDays: 7 }, [maker])
  const finished = await startJob(app, 'alice', 'maker', {})
  const failed = await startJob(app, 'alice', 'sleep', { seconds: 0, steps: 1, failAt: 1 })
  const running = await startJob(app, 'alice', 'maker', { hold: true })
  await waitForState(app, 'alice', finished.id, 'completed')
  await waitForState(app, 'alice', failed.id, 'failed')
  await waitForState(app, 'alice', running.id, 'running')
  const filesOf = (id: string): string => join(dataDir, 'files', id)
  t.ok(existsSync(filesOf(finished.id)), 'the finished job has files')

  t.equal(await app.jobcast.service.retention.sweep(Date.now() + 6 * DAY), 0, 'nothing is older than 7 days yet')
  t.ok(await app.jobcast.service.store.get(finished.id))

  t.equal(await app.jobcast.service.retention.sweep(Date.now() + 8 * DAY), 2)
  t.equal(await app.jobcast.service.store.get(finished.id), undefined)
  t.equal(await app.jobcast.service.store.get(failed.id), undefined)
  t.same(await app.jobcast.service.store.artifacts(finished.id), [])
  t.notOk(existsSync(filesOf(finished.id)), 'its files folder is gone')
  t.equal((await app.jobcast.service.store.get(running.id))?.state, 'running', 'an unfinished job is kept')
  t.ok(existsSync(filesOf(running.id)), 'with its files')
})
