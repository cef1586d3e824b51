// Writes of a running job that no one awaits (a progress flush, a checkpoint the handler fired and forgot) fail
// while the store is unreachable: they must not reject unhandled, which ends a server process.
import { test } from 'tap'
import pino from 'pino'
import { createJobContext } from '../../src/core/job-context.ts'
import { LiveJob } from '../../src/core/live-job.ts'
import type { JobRecord } from '../../src/core/model.ts'
import type { FileStore } from '../../src/ports/file-store.ts'
import type { JobStore } from '../../src/ports/job-store.ts'
import { JobcastError } from '../../src/errors.ts'
import type { Teardown } from '../helper.ts'

function running (): JobRecord {
  const now = Date.now()
  return {
    id: 'job-1', type: 'any', owner: 'alice', state: 'running', input: {}, progress: null, result: null, error: null, preview: null, files: [],
    checkpoint: null, attempt: 1, maxAttempts: 1, createdAt: now, startedAt: now, finishedAt: null, runAt: now, batchId: null,
    idempotencyKey: null, requestHash: null, lease: { node: 'n1', expiresAt: now + 30_000 }, version: 1
  }
}

const down = (): JobcastError => new JobcastError('STORE_UNAVAILABLE', 'the database cannot be reached right now', 503)

// Unhandled rejections while the test runs.
function unhandled (t: Teardown): unknown[] {
  const seen: unknown[] = []
  const listener = (reason: unknown): void => { seen.push(reason) }
  process.on('unhandledRejection', listener)
  t.teardown(() => { process.off('unhandledRejection', listener) })
  return seen
}

// Past the point where Node reports a rejection nobody handled (after the microtasks of the current turn).
async function afterRejectionChecks (): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
}

test('a progress flushed in the background whose write fails is reported, kept for the next write, never unhandled', async (t) => {
  const seen = unhandled(t)
  let attempted: () => void = () => {}
  const wrote = new Promise<void>((resolve) => { attempted = resolve })
  const reported: unknown[] = []
  const live = new LiveJob(running(), async () => { attempted(); throw down() }, 0, (err) => { reported.push(err) })
  live.progress({ current: 1, total: 4 })
  await wrote
  await afterRejectionChecks()
  t.same(seen, [], 'no unhandled rejection')
  t.equal((reported[0] as JobcastError | undefined)?.code, 'STORE_UNAVAILABLE', 'the failure went to the listener')
  t.equal(live.takePending()?.current, 1, 'the value not written is held for the next write')
})

test('a checkpoint the handler does not await fails without an unhandled rejection; an awaited one rejects', async (t) => {
  const seen = unhandled(t)
  const live = new LiveJob(running(), async () => { throw down() }, 0)
  const ctx = createJobContext(live, { store: {} as JobStore, files: { localPath: () => '' } as unknown as FileStore, log: pino({ level: 'silent' }) })
  void ctx.checkpoint({ step: 1 })
  await live.drain()
  await afterRejectionChecks()
  t.same(seen, [], 'no unhandled rejection')
  await t.rejects(ctx.checkpoint({ step: 2 }), { code: 'STORE_UNAVAILABLE' }, 'a handler that awaits its checkpoint learns it failed')
})
