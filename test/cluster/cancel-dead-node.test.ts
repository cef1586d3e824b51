// A cancel of a job whose node died: the node cannot be asked, so the job ends canceled once its lease is out —
// at once when it already is, by the canceling node when it runs out meanwhile, or by any node's reaper when the
// cancel was recorded and its asker went away too. Never run again. Engines on one PostgreSQL database (as in
// cancel-recorded.test.ts); the dead node is a lease in the table that nobody renews.
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
import type { JobEventKind } from '../../src/core/model.ts'
import { JobRegistry } from '../../src/core/registry.ts'
import { newId } from '../../src/lib/ids.ts'
import { parseAllowList } from '../../src/net/address-policy.ts'
import { JobViews } from '../../src/schemas/job.ts'
import { createTestDatabase } from '../adapters/postgres/test-database.ts'
import { pollUntil } from '../child-server.ts'
import type { Teardown } from '../helper.ts'

const LEASE_MS = 1500
const ABORT_GRACE_MS = 500

const database = await createTestDatabase()
t.teardown(database.drop)
const files = mkdtempSync(join(tmpdir(), 'jobcast-cancel-dead-'))
t.teardown(() => { rmSync(files, { recursive: true, force: true }) })
const db = await PgDatabase.open(database.url, { max: 2 })
t.teardown(async () => { await db.close() })

let runs = 0
const hold = defineJob({
  type: 'hold',
  input: Type.Object({}),
  retry: { attempts: 3, baseMs: 1 },
  async run (ctx) {
    runs++
    await new Promise<void>((resolve) => { ctx.signal.addEventListener('abort', () => { resolve() }, { once: true }) })
    throw ctx.signal.reason
  }
}) as JobDefinition

// An engine of its own node; its runner (claims, reaper) is started only when asked.
async function engine (t: Teardown, node: string): Promise<{ service: JobcastService, kinds: (id: string) => JobEventKind[] }> {
  const store = new PgJobStore(db)
  const events = new MemoryJobEvents({})
  const heard: Array<{ id: string, kind: JobEventKind }> = []
  events.subscribe((event) => { heard.push({ id: event.jobId, kind: event.kind }) })
  const registry = new JobRegistry()
  registry.register(hold)
  const service = new JobcastService({ store, events, files: new LocalFileStore(files) }, registry, new JobViews(), {
    node, concurrency: 2, userConcurrency: 2, maxQueuedPerUser: 100, retentionMs: 86_400_000, leaseMs: LEASE_MS, pollMs: 100, progressIntervalMs: 50, abortGraceMs: ABORT_GRACE_MS,
    batchLimits: { maxFiles: 10, maxFileBytes: 1024, maxBytes: 10_240 },
    notifications: { allow: parseAllowList(''), smtpUrl: '', smtpFrom: 'jobcast <jobcast@localhost>' }
  }, pino({ level: 'silent' }))
  t.teardown(async () => {
    await service.stop(0)
    await events.close()
    await store.close()
  })
  return { service, kinds: (id) => heard.filter((e) => e.id === id).map((e) => e.kind) }
}

// A job that node `gone` claimed and then died with: running, its lease out at `expiresAt`, nobody renewing it.
async function leftByDeadNode (owner: string, expiresAt: number, cancelRecorded = false): Promise<string> {
  const now = Date.now()
  const id = newId()
  await new PgJobStore(db).insertOrGet({
    id, type: 'hold', owner, state: 'queued', input: {}, progress: null, result: null, error: null, preview: null, files: [], checkpoint: null,
    attempt: 1, maxAttempts: 3, createdAt: now, startedAt: null, finishedAt: null, runAt: now, batchId: null, idempotencyKey: null, requestHash: null, lease: null, version: 1
  }, { maxQueued: 100 })
  await db.query(`UPDATE jobcast.jobs SET state = 'running', lease_node = 'gone', lease_expires_at = $2, started_at = $3,
    cancel_requested_at = $4, version = version + 1 WHERE id = $1`, [id, expiresAt, now, cancelRecorded ? now : null])
  return id
}

t.test('its lease already ran out: the cancel ends it canceled at once, without waiting for its node', async (t) => {
  const { service } = await engine(t, 'asker-1')
  const id = await leftByDeadNode('alice', Date.now() - 1000)
  const asked = Date.now()
  const job = await service.cancel('alice', id)
  const took = Date.now() - asked
  t.equal(job?.state, 'canceled')
  t.equal(job?.error?.code, 'CANCELED')
  t.equal(job?.lease, null, 'the dead node\'s lease is gone with it')
  t.ok(took < ABORT_GRACE_MS + 2000, `not the wait for a live node to stop it (${took} ms)`)
})

t.test('its lease still holds: the cancel is recorded, and answers canceled once the lease runs out', async (t) => {
  const { service } = await engine(t, 'asker-2')
  const expiresAt = Date.now() + LEASE_MS
  const id = await leftByDeadNode('bob', expiresAt)
  const canceling = service.cancel('bob', id)
  const recorded = await pollUntil(async () => {
    const { rows } = await db.query<{ at: number | null }>('SELECT cancel_requested_at AS at FROM jobcast.jobs WHERE id = $1', [id])
    return rows[0]?.at ?? undefined
  }, 'the cancel to be recorded on the job', LEASE_MS, 10)
  t.ok(recorded < expiresAt, 'recorded on the job before its lease ran out (its node, were it alive, would see it at its next heartbeat)')
  const job = await canceling
  t.equal(job?.state, 'canceled', 'the answer is the canceled job')
  t.ok(job!.finishedAt! >= expiresAt, 'ended only once no node could still be running it under its lease')
})

t.test('its lease holds for long yet: the cancel answers after the wait for a live node, with the job still running and its cancel recorded', async (t) => {
  const { service } = await engine(t, 'asker-3')
  const id = await leftByDeadNode('dave', Date.now() + 60_000)
  const asked = Date.now()
  const job = await service.cancel('dave', id)
  const took = Date.now() - asked
  t.equal(job?.state, 'running', 'not canceled yet: its node may still be running it under its lease')
  t.ok(took < ABORT_GRACE_MS + 2000 + 1000, `answered without waiting out the 60 s lease (${took} ms)`)
  const { rows } = await db.query<{ at: number | null }>('SELECT cancel_requested_at AS at FROM jobcast.jobs WHERE id = $1', [id])
  t.ok(rows[0]?.at !== null && rows[0]?.at !== undefined, 'the cancel is recorded on the job, for its node\'s next heartbeat or the reaper once the lease is out')
})

t.test('a cancel recorded while the node was dead (its asker gone too): any node\'s reaper ends it canceled, never runs it again', async (t) => {
  const id = await leftByDeadNode('carol', Date.now() - 1000, true)
  const before = runs
  const reaper = await engine(t, 'reaper')
  await reaper.service.start() // reaps what dead nodes left before it takes work
  const job = await reaper.service.get('carol', id)
  t.equal(job?.state, 'canceled', 'canceled, not queued for attempt 2')
  t.equal(job?.attempt, 1)
  t.equal(job?.error?.code, 'CANCELED')
  t.same(reaper.kinds(id), ['canceled'], 'no retrying event')
  t.equal(runs, before, 'its handler never ran again')
})
