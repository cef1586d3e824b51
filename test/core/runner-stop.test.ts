// stop() and the claim under way: the stores close right after a stop, so nothing may still be querying them.
import pino from 'pino'
import { test } from 'tap'
import { MemoryJobEvents } from '../../src/adapters/memory/memory-job-events.ts'
import { JobRunner } from '../../src/core/job-runner.ts'
import { Lifecycle } from '../../src/core/lifecycle.ts'
import type { JobRecord } from '../../src/core/model.ts'
import { JobRegistry } from '../../src/core/registry.ts'
import type { FileStore } from '../../src/ports/file-store.ts'
import type { JobStore } from '../../src/ports/job-store.ts'
import { JobViews } from '../../src/schemas/job.ts'
import { deferred } from '../helper.ts'

test('stop() waits for the claim under way, and nothing queries the store after it resolves', async (t) => {
  const claimed = deferred<JobRecord[]>()
  const claiming = deferred()
  let closed = false
  const afterClose: string[] = []
  const use = (what: string): void => { if (closed) afterClose.push(what) }
  // Only what a runner with no job calls.
  const store = {
    expiredLeases: async () => { use('expiredLeases'); return [] },
    claim: async () => { use('claim'); claiming.resolve(); return await claimed.promise },
    nextRunAt: async () => { use('nextRunAt'); return undefined },
    heartbeat: async () => { use('heartbeat'); return { lost: [], canceled: [] } }
  } as unknown as JobStore
  const events = new MemoryJobEvents({})
  t.teardown(async () => { await events.close() })
  const log = pino({ level: 'silent' })
  const runner = new JobRunner({
    store, events, lifecycle: new Lifecycle({ store, events, views: new JobViews(), log }), registry: new JobRegistry(), files: {} as FileStore, log,
    node: 'n1', concurrency: 2, userConcurrency: 2, leaseMs: 30_000, pollMs: 60_000, progressIntervalMs: 50, abortGraceMs: 100
  })
  await runner.start()
  await claiming.promise
  let stopped = false
  const stopping = runner.stop(0).then(() => { stopped = true })
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
  t.notOk(stopped, 'not stopped while its claim is still out')
  claimed.resolve([])
  await stopping
  closed = true // what the server does next
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
  t.same(afterClose, [], 'no query after stop() (the claim\'s follow-up look at the next runAt included)')
})
