import { parseAllowList } from '../../src/net/address-policy.ts'
// A cancel whose notification never reaches the node running the job still stops it: the cancel is recorded on
// the job, and that node's next heartbeat finds it. Two engines on one PostgreSQL database, each with in-process
// events of its own, so that no notification crosses between them.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import t from 'tap'
import { Type } from 'typebox'
import { LocalFileStore } from '../../src/adapters/local-file-store.ts'
import { MemoryJobEvents } from '../../src/adapters/memory/memory-job-events.ts'
import { PgDatabase } from '../../src/adapters/postgres/database.ts'
import { PgJobStore } from '../../src/adapters/postgres/pg-job-store.ts'
import { defineJob, type JobDefinition } from '../../src/core/define-job.ts'
import { JobcastService } from '../../src/core/jobcast-service.ts'
import { JobRegistry } from '../../src/core/registry.ts'
import { AbortReason } from '../../src/errors.ts'
import { JobViews } from '../../src/schemas/job.ts'
import { pollUntil } from '../child-server.ts'
import { createTestDatabase } from '../adapters/postgres/test-database.ts'

const LEASE_MS = 1500

t.test('a cancel recorded through one node stops the handler on another that heard no notification', async (t) => {
  const database = await createTestDatabase()
  t.teardown(database.drop)
  const files = mkdtempSync(join(tmpdir(), 'jobcast-cancel-'))
  t.teardown(() => { rmSync(files, { recursive: true, force: true }) })
  let stoppedBy: unknown
  const hold = defineJob({
    type: 'hold',
    input: Type.Object({}),
    async run (ctx) {
      if (!ctx.signal.aborted) await new Promise<void>((resolve) => { ctx.signal.addEventListener('abort', () => { resolve() }, { once: true }) })
      stoppedBy = ctx.signal.reason
      throw ctx.signal.reason
    }
  }) as JobDefinition

  const engine = async (node: string): Promise<JobcastService> => {
    const db = await PgDatabase.open(database.url, { max: 4 })
    const store = new PgJobStore(db)
    const events = new MemoryJobEvents({})
    const registry = new JobRegistry()
    registry.register(hold)
    const service = new JobcastService({ store, events, files: new LocalFileStore(files) }, registry, new JobViews(), {
      node, concurrency: 2, userConcurrency: 2, maxQueuedPerUser: 100, retentionMs: 86_400_000, leaseMs: LEASE_MS, pollMs: 100, progressIntervalMs: 50, abortGraceMs: 500,
      batchLimits: { maxFiles: 10, maxFileBytes: 1024, maxBytes: 10_240 },
      notifications: { allow: parseAllowList(''), smtpUrl: '', smtpFrom: 'jobcast <jobcast@localhost>' }
    }, pino({ level: 'silent' }))
    t.teardown(async () => {
      await service.stop(0)
      await events.close()
      await store.close()
      await db.close()
    })
    return service
  }
  // `asker` never starts its runner: the job can only run on `runner`.
  const [asker, runner] = await Promise.all([engine('asker'), engine('runner')])
  await runner.start()
  const { job } = await runner.submit('alice', 'hold', {})
  await pollUntil(async () => (await runner.get('alice', job.id))?.state === 'running' ? true : undefined, 'the job to run', 10_000)

  const asked = Date.now()
  const canceling = asker.cancel('alice', job.id)
  const ended = await pollUntil(async () => {
    const now = await runner.get('alice', job.id)
    return now?.state === 'canceled' ? now : undefined
  }, 'the job to be canceled on the runner', 10_000)
  t.ok(stoppedBy instanceof AbortReason && stoppedBy.kind === 'canceled', 'the handler\'s signal fired as a cancel')
  t.ok(Date.now() - asked < LEASE_MS, `within a heartbeat (lease/3), ${Date.now() - asked} ms`)
  t.equal(ended.error?.code, 'CANCELED')
  t.equal((await canceling)?.state, 'canceled', 'the asking node answers with the canceled job')
})
