import { test } from 'tap'
import { Type } from 'typebox'
import { defineJob, type JobDefinition, type MapResult } from '../../src/core/define-job.ts'
import { JobcastError, PermanentError, RetryableError } from '../../src/errors.ts'
import { newId } from '../../src/lib/ids.ts'
import { build, seedJobs, startJob, tempDataDir, waitForState } from '../helper.ts'

// Two steps; the second fails on the first attempt, after the first step completed.
function stepper (calls: string[]): JobDefinition {
  return defineJob({
    type: 'stepper',
    input: Type.Object({}),
    retry: { attempts: 2, baseMs: 1 },
    async run (ctx) {
      const downloaded = await ctx.step('download', async () => { calls.push(`download@${ctx.attempt}`); return { rows: 10 } })
      const parsed = await ctx.step('parse', async () => {
        calls.push(`parse@${ctx.attempt}`)
        if (ctx.attempt === 1) throw new RetryableError('parser busy')
        return downloaded.rows * 2
      })
      return { downloaded, parsed }
    }
  }) as JobDefinition
}

test('ctx.step: a step that completed is not run again on the next attempt; its saved result is reused', async (t) => {
  const calls: string[] = []
  const app = await build(t, {}, [stepper(calls)])
  const job = await startJob(app, 'alice', 'stepper', {})
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed')
  t.equal(done.state, 'completed')
  t.equal(done.attempt, 2)
  t.same(calls, ['download@1', 'parse@1', 'parse@2'], 'download ran once')
  t.same(done.result, { downloaded: { rows: 10 }, parsed: 20 })
})

test('ctx.step: a step checkpointed before a crash is not re-run after the restart', async (t) => {
  const dataDir = tempDataDir(t)
  const now = Date.now()
  const id = newId()
  seedJobs(dataDir, [{
    id, type: 'stepper', owner: 'alice', state: 'running', input: {}, progress: null, result: null, error: null, preview: null, files: [],
    checkpoint: { steps: { download: { rows: 7 } } },
    attempt: 1, maxAttempts: 2, createdAt: now, startedAt: now, finishedAt: null, runAt: now, batchId: null, idempotencyKey: null, requestHash: null, lease: null, version: 1
  }])
  const calls: string[] = []
  const app = await build(t, { dataDir }, [stepper(calls)])
  const done = await waitForState(app, 'alice', id, 'completed', 'failed')
  t.equal(done.state, 'completed')
  t.same(calls, ['parse@2'])
  t.same(done.result, { downloaded: { rows: 7 }, parsed: 14 })
})

test('ctx.checkpoint / lastCheckpoint carry state across a retry', async (t) => {
  const seen: unknown[] = []
  const resumer = defineJob({
    type: 'resumer',
    input: Type.Object({}),
    retry: { attempts: 3, baseMs: 1 },
    async run (ctx) {
      seen.push(ctx.lastCheckpoint)
      const from = (ctx.lastCheckpoint as { cursor: number } | undefined)?.cursor ?? 0
      ctx.checkpoint({ cursor: from + 5 })
      if (ctx.attempt < 3) throw new RetryableError(`flaky at ${from + 5}`)
      return { cursor: from + 5 }
    }
  }) as JobDefinition
  const app = await build(t, {}, [resumer])
  const job = await startJob(app, 'alice', 'resumer', {})
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed')
  t.same(seen, [undefined, { cursor: 5 }, { cursor: 10 }])
  t.same(done.result, { cursor: 15 })
})

function mapper (calls: number[], failFast: boolean): JobDefinition {
  return defineJob({
    type: failFast ? 'map-fail-fast' : 'map-collect',
    input: Type.Object({}),
    async run (ctx) {
      const result: MapResult<number> = await ctx.map([10, 20, 30, 40, 50, 60], async (item, index) => {
        calls.push(index)
        if (index === 2) throw new JobcastError('BAD_ITEM', `item ${item} is bad`)
        return item + 1
      }, { concurrency: 1, failFast, label: 'row' })
      return result
    }
  }) as JobDefinition
}

test('ctx.map with failFast: the first failure fails the job and stops the rest', async (t) => {
  const calls: number[] = []
  const app = await build(t, {}, [mapper(calls, true)])
  const job = await startJob(app, 'alice', 'map-fail-fast', {})
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed')
  t.equal(done.state, 'failed')
  t.same(done.error, { code: 'BAD_ITEM', message: 'row 3 failed: item 30 is bad' })
  t.same(calls, [0, 1, 2], 'no item after the failure ran')
})

// A failFast map whose item 2 (of 6, three at a time) throws what `failure` makes; records each attempt's items.
function failingMap (type: string, attempts: number, failure: (attempt: number) => unknown, runs: Array<{ attempt: number, items: number[], failedAt?: number, startedAt: number }>): JobDefinition {
  return defineJob({
    type,
    input: Type.Object({}),
    retry: { attempts, baseMs: 1, maxMs: 1 },
    async run (ctx) {
      const run: { attempt: number, items: number[], failedAt?: number, startedAt: number } = { attempt: ctx.attempt, items: [], startedAt: Date.now() }
      runs.push(run)
      let open!: () => void
      const gate = new Promise<void>((resolve) => { open = resolve })
      await ctx.map([0, 1, 2, 3, 4, 5], async (item) => {
        run.items.push(item)
        if (item === 2 && ctx.attempt === 1) {
          run.failedAt = Date.now()
          open()
          throw failure(ctx.attempt)
        }
        // Items 0 and 1 are in flight when item 2 fails: they finish, and nothing after them starts.
        if (item < 2 && ctx.attempt === 1) await gate
        return item
      }, { concurrency: 3, failFast: true })
      return { attempt: ctx.attempt }
    }
  }) as JobDefinition
}

test('ctx.map failFast keeps the item\'s error class: a PermanentError is not retried, a RetryableError waits its Retry-After', async (t) => {
  const permanentRuns: Array<{ attempt: number, items: number[], startedAt: number }> = []
  const retryRuns: Array<{ attempt: number, items: number[], failedAt?: number, startedAt: number }> = []
  const plainRuns: Array<{ attempt: number, items: number[], failedAt?: number, startedAt: number }> = []
  const app = await build(t, {}, [
    failingMap('ff-permanent', 3, () => new PermanentError('BAD_ROW', 'row 3 is not a date'), permanentRuns),
    failingMap('ff-retryable', 3, () => new RetryableError('upstream busy', { code: 'HTTP_429', retryAfterMs: 300 }), retryRuns),
    // Not a jobcast error, but it says how long to wait (as some HTTP clients' errors do).
    failingMap('ff-plain', 2, () => Object.assign(new Error('slow down'), { code: 'SLOW_DOWN', retryAfterMs: 300 }), plainRuns)
  ])

  const permanent = await startJob(app, 'alice', 'ff-permanent', {})
  const failed = await waitForState(app, 'alice', permanent.id, 'completed', 'failed')
  t.equal(failed.state, 'failed')
  t.equal(failed.attempt, 1, 'a permanent item failure is not retried although attempts remain')
  t.same(failed.error, { code: 'BAD_ROW', message: 'item 3 failed: row 3 is not a date' })
  t.same([...permanentRuns[0]!.items].sort(), [0, 1, 2], 'no item started after the failure; those in flight finished')

  for (const [type, runs] of [['ff-retryable', retryRuns], ['ff-plain', plainRuns]] as const) {
    const job = await startJob(app, 'alice', type, {})
    const done = await waitForState(app, 'alice', job.id, 'completed', 'failed')
    t.equal(done.state, 'completed', `${type}: retried, and the second attempt completed`)
    t.equal(done.attempt, 2)
    t.same([...runs[0]!.items].sort(), [0, 1, 2], `${type}: the first attempt stopped at the failure`)
    t.same([...runs[1]!.items].sort(), [0, 1, 2, 3, 4, 5])
    const waited = runs[1]!.startedAt - runs[0]!.failedAt!
    t.ok(waited >= 300, `${type}: the retry waited the item's Retry-After (${waited} ms >= 300; the backoff alone is at most 1 ms)`)
  }
})

test('ctx.map failFast: an item timeout fails the job with ITEM_TIMEOUT naming the item', async (t) => {
  const app = await build(t, {}, [defineJob({
    type: 'ff-timeout',
    input: Type.Object({}),
    async run (ctx) {
      await ctx.map([0, 1], async (item, _index, signal) => {
        // Answers its abort by returning, as a handler returning what it has so far does: still a timeout.
        if (item === 1) await new Promise((resolve) => { signal.addEventListener('abort', resolve, { once: true }) })
        return item
      }, { concurrency: 2, failFast: true, timeoutMs: 50, label: 'page' })
      return null
    }
  }) as JobDefinition])
  const job = await startJob(app, 'alice', 'ff-timeout', {})
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed')
  t.equal(done.state, 'failed')
  t.equal(done.error?.code, 'ITEM_TIMEOUT')
  t.match(done.error?.message, /^page 2 failed: page 2 timed out after 50 ms/)
})

test('ctx.map without failFast collects per-item failures and completes', async (t) => {
  const calls: number[] = []
  const app = await build(t, {}, [mapper(calls, false)])
  const job = await startJob(app, 'alice', 'map-collect', {})
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed')
  t.equal(done.state, 'completed')
  const result = done.result as MapResult<number>
  t.equal(result.succeeded, 5)
  t.equal(result.failed, 1)
  t.same(result.outcomes[2], { index: 2, ok: false, error: { code: 'BAD_ITEM', message: 'item 30 is bad' } })
  t.same(result.outcomes[5], { index: 5, ok: true, value: 61 })
  t.same(calls, [0, 1, 2, 3, 4, 5])
  t.equal(done.progress?.message, 'row 6 of 6')
})

test('ctx.artifact refuses an unsafe name', async (t) => {
  const app = await build(t, {}, [defineJob({
    type: 'escape',
    input: Type.Object({}),
    async run (ctx) { await ctx.artifact('../../etc/passwd', 'x'); return null }
  }) as JobDefinition])
  const job = await startJob(app, 'alice', 'escape', {})
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed')
  t.equal(done.state, 'failed')
  t.equal(done.error?.code, 'INVALID_ARTIFACT_NAME')
  t.same(await app.jobcast.service.store.artifacts(job.id), [])
})
