import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { Type } from 'typebox'
import { defineJob, type JobDefinition } from '../../src/core/define-job.ts'
import { responseError } from '../../src/core/http-errors.ts'
import { PermanentError, RetryableError } from '../../src/errors.ts'
import { build, recordEvents, startJob, waitForState } from '../helper.ts'

test('a RetryableError with retryAfterMs is retried no sooner than asked, until an attempt succeeds', async (t) => {
  const log: Array<{ attempt: number, startedAt: number, failedAt?: number }> = []
  const busy = defineJob({
    type: 'busy',
    input: Type.Object({}),
    retry: { attempts: 3, baseMs: 1 },
    async run (ctx) {
      const entry: { attempt: number, startedAt: number, failedAt?: number } = { attempt: ctx.attempt, startedAt: Date.now() }
      log.push(entry)
      if (ctx.attempt < 3) {
        entry.failedAt = Date.now()
        throw new RetryableError('busy', { retryAfterMs: 150 })
      }
      return { attempt: ctx.attempt }
    }
  }) as JobDefinition
  const app = await build(t, {}, [busy])
  const events = recordEvents(t, app)
  const job = await startJob(app, 'alice', 'busy', {})
  t.equal(job.maxAttempts, 3)
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed')

  t.equal(done.state, 'completed')
  t.equal(done.attempt, 3)
  t.same(done.result, { attempt: 3 })
  t.equal(done.error, null, 'the earlier failures are cleared on success')
  t.same(log.map((e) => e.attempt), [1, 2, 3])
  for (let i = 1; i < log.length; i++) {
    const gap = log[i]!.startedAt - log[i - 1]!.failedAt!
    t.ok(gap >= 150, `attempt ${i + 1} started ${gap} ms after attempt ${i} failed (>= 150)`)
  }
  const retrying = events.filter((e) => e.job.id === job.id && e.kind === 'retrying')
  t.equal(retrying.length, 2)
  t.same(retrying.map((e) => [e.job.state, e.job.attempt, e.job.error?.code]), [['queued', 2, 'RETRYABLE'], ['queued', 3, 'RETRYABLE']])
})

test('attempts used up: the job fails with the last error; a PermanentError is not retried', async (t) => {
  let permanentRuns = 0
  const app = await build(t, {}, [
    defineJob({
      type: 'always-busy',
      input: Type.Object({}),
      retry: { attempts: 2, baseMs: 1 },
      async run () { throw new RetryableError('still busy', { code: 'UPSTREAM_BUSY' }) }
    }) as JobDefinition,
    defineJob({
      type: 'permanent',
      input: Type.Object({}),
      retry: { attempts: 5, baseMs: 1 },
      async run () {
        permanentRuns++
        throw new PermanentError('BAD_DATA', 'row 3 is not a date')
      }
    }) as JobDefinition
  ])
  const busy = await startJob(app, 'alice', 'always-busy', {})
  const failed = await waitForState(app, 'alice', busy.id, 'completed', 'failed')
  t.equal(failed.state, 'failed')
  t.equal(failed.attempt, 2)
  t.same(failed.error, { code: 'UPSTREAM_BUSY', message: 'still busy' })

  const permanent = await startJob(app, 'alice', 'permanent', {})
  const done = await waitForState(app, 'alice', permanent.id, 'completed', 'failed')
  t.equal(done.state, 'failed')
  t.equal(done.attempt, 1)
  t.equal(done.error?.code, 'BAD_DATA')
  t.equal(permanentRuns, 1)
})

test('a type calling a service that answers 429 then 529 with Retry-After: 1 is retried by its policy no sooner than asked, then completes', async (t) => {
  const answers = [{ status: 429, retryAfter: '1' }, { status: 529, retryAfter: '1' }]
  const calls: number[] = []
  const server = createServer((_req, res) => {
    calls.push(Date.now())
    const answer = answers[calls.length - 1]
    if (answer === undefined) res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
    else res.writeHead(answer.status, { 'retry-after': answer.retryAfter }).end()
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => { server.close(resolve) }) })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  const caller = defineJob({
    type: 'caller',
    input: Type.Object({}),
    // The protection is configuration: up to 4 attempts, exponential backoff with full jitter (1 ms base here,
    // so that any wait near a second can only come from Retry-After).
    retry: { attempts: 4, baseMs: 1, maxMs: 4 },
    async run (ctx) {
      const res = await fetch(url, { signal: ctx.signal })
      if (!res.ok) throw responseError(res, `GET ${url}`)
      return await res.json() as unknown
    }
  }) as JobDefinition
  const app = await build(t, {}, [caller])
  const events = recordEvents(t, app)
  const job = await startJob(app, 'alice', 'caller', {})
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed')
  t.equal(done.state, 'completed')
  t.equal(done.attempt, 3)
  t.same(done.result, { ok: true })
  t.equal(calls.length, 3)
  for (let i = 1; i < calls.length; i++) t.ok(calls[i]! - calls[i - 1]! >= 1000, `call ${i + 1} came ${calls[i]! - calls[i - 1]!} ms after call ${i} (Retry-After: 1)`)
  t.same(events.filter((e) => e.job.id === job.id && e.kind === 'retrying').map((e) => e.job.error?.code), ['HTTP_429', 'HTTP_529'])
})
