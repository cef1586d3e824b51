import { test } from 'tap'
import { Type } from 'typebox'
import { defineJob, type JobDefinition } from '../../src/core/define-job.ts'
import { RetryableError } from '../../src/errors.ts'
import { build, deferred, startJob, waitForState } from '../helper.ts'

test('a listener that throws (on every event, retrying included) does not stop a retry', async (t) => {
  const flaky = defineJob({
    type: 'flaky',
    input: Type.Object({}),
    retry: { attempts: 2, baseMs: 1 },
    async run (ctx) {
      if (ctx.attempt === 1) throw new RetryableError('first attempt fails')
      return { attempt: ctx.attempt }
    }
  }) as JobDefinition
  const app = await build(t, {}, [flaky])
  const heard: string[] = []
  const unsubscribe = app.jobcast.service.events.subscribe((event) => {
    heard.push(event.kind)
    throw new Error(`a listener that breaks on ${event.kind}`)
  })
  t.teardown(unsubscribe)
  const job = await startJob(app, 'alice', 'flaky', {})
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed')
  t.equal(done.state, 'completed')
  t.equal(done.attempt, 2, 'the retry ran')
  t.ok(heard.includes('retrying'), 'the broken listener heard the retry')
})

test('start() twice runs each job once', async (t) => {
  const release = deferred()
  let runs = 0
  const counted = defineJob({
    type: 'counted',
    input: Type.Object({}),
    async run () {
      runs++
      await release.promise
      return 'done'
    }
  }) as JobDefinition
  const app = await build(t, {}, [counted])
  await app.jobcast.service.start()
  await app.jobcast.service.runner.start()
  const jobs = await Promise.all(Array.from({ length: 5 }, async () => await startJob(app, 'alice', 'counted', {})))
  await Promise.all(jobs.slice(0, 4).map(async (job) => await waitForState(app, 'alice', job.id, 'running')))
  await app.jobcast.service.start()
  release.resolve()
  for (const job of jobs) t.equal((await waitForState(app, 'alice', job.id, 'completed', 'failed')).state, 'completed')
  t.equal(runs, 5, 'five jobs, five runs')
})

test('stop() twice, and start() after stop(), are safe', async (t) => {
  const app = await build(t)
  await app.jobcast.service.stop(100)
  await app.jobcast.service.stop(100)
  const refused = await app.jobcast.submit('alice', 'sleep', { seconds: 0 }).then(() => 'accepted', (err: { code?: string }) => err.code)
  t.equal(refused, 'SHUTTING_DOWN')
})
