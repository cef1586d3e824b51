import { test } from 'tap'
import { Type } from 'typebox'
import { PgDatabase } from '../../../src/adapters/postgres/database.ts'
import { PgServiceLimiter, type PgServiceLimiterOptions } from '../../../src/adapters/postgres/pg-service-limiter.ts'
import { defineJob, type JobDefinition } from '../../../src/core/define-job.ts'
import type { ServiceLimits } from '../../../src/core/key-limiter.ts'
import { pollUntil } from '../../child-server.ts'
import type { JobView } from '../../../src/schemas/job.ts'
import { build, mostInWindow, startJob, type Teardown } from '../../helper.ts'
import { within } from '../../ports/fixtures.ts'
import { createTestDatabase } from './test-database.ts'

// Nodes on one database, each with a pool of its own: `node()` opens one more.
async function cluster (t: Teardown): Promise<{ node: (options?: PgServiceLimiterOptions) => Promise<{ limiter: PgServiceLimiter, db: PgDatabase }> }> {
  const database = await createTestDatabase()
  const opened: Array<{ limiter: PgServiceLimiter, db: PgDatabase }> = []
  t.teardown(async () => {
    await Promise.all(opened.map(async ({ limiter }) => { await limiter.close() }))
    await Promise.all(opened.map(async ({ db }) => { await db.close() }))
    await database.drop()
  })
  return {
    node: async (options = {}) => {
      const db = await PgDatabase.open(database.url, { max: 4 })
      const opened1 = { limiter: new PgServiceLimiter(db, { pollMs: 20, ...options }), db }
      opened.push(opened1)
      return opened1
    }
  }
}

const never = (): AbortSignal => new AbortController().signal

test('concurrency across nodes: two nodes never hold more than N slots of a key; a release lets a waiter of the other node in', async (t) => {
  const { node } = await cluster(t)
  const [a, b] = [await node(), await node()]
  const limits: ServiceLimits = { key: 'sat', concurrency: 2 }
  const first = await a.limiter.acquire(limits, never())
  const second = await b.limiter.acquire(limits, never())
  // Both slots are held (one per node): a third, on either node, gets none while they are.
  await t.rejects(a.limiter.acquire(limits, AbortSignal.timeout(300)), { name: 'TimeoutError' }, 'node a gets no third slot')
  await t.rejects(b.limiter.acquire(limits, AbortSignal.timeout(300)), { name: 'TimeoutError' }, 'node b gets no third slot')
  const waiting = b.limiter.acquire(limits, AbortSignal.timeout(10_000))
  first()
  const third = await waiting
  t.pass('the slot node a gave back went to node b\'s waiter')
  second()
  third()
  // Another key has slots of its own.
  ;(await a.limiter.acquire({ key: 'other', concurrency: 1 }, never()))()
})

test('concurrency across nodes: 16 jobs on two nodes, at most 3 at once, all served', async (t) => {
  const { node } = await cluster(t)
  const nodes = [await node(), await node()]
  const limits: ServiceLimits = { key: 'pac', concurrency: 3 }
  let holding = 0
  let most = 0
  await within(Promise.all(Array.from({ length: 16 }, async (_, i) => {
    const release = await nodes[i % 2]!.limiter.acquire(limits, never())
    holding++
    most = Math.max(most, holding)
    // Some work while holding the slot (the bound is what is checked, not how long this takes).
    await new Promise((resolve) => setTimeout(resolve, 15))
    holding--
    release()
  })), 30_000, '16 holders')
  t.ok(most <= 3, `never more than 3 held at once across the nodes (${most})`)
  t.ok(most >= 2, 'both nodes held slots at once')
})

test('a node that dies without releasing: its slots free themselves when their lease runs out', async (t) => {
  const { node } = await cluster(t)
  const dying = await node({ leaseMs: 400 })
  const survivor = await node()
  const limits: ServiceLimits = { key: 'svc', concurrency: 1 }
  await dying.limiter.acquire(limits, never())
  // The pool goes: no renewal, no release reaches the database.
  await dying.db.close()
  const taken = await survivor.limiter.acquire(limits, AbortSignal.timeout(10_000))
  t.pass('the survivor got the slot after the lease ran out')
  taken()
})

test('ratePerSecond across nodes: starts on two nodes are spaced by the database\'s clock', async (t) => {
  const { node } = await cluster(t)
  const nodes = [await node(), await node()]
  const limits: ServiceLimits = { key: 'api', ratePerSecond: 20 }
  const starts: number[] = []
  await within(Promise.all(Array.from({ length: 16 }, async (_, i) => {
    const release = await nodes[i % 2]!.limiter.acquire(limits, never())
    starts.push(Date.now())
    release()
  })), 30_000, '16 starts')
  starts.sort((x, y) => x - y)
  t.equal(starts.length, 16)
  // The database spaces starts exactly 50 ms apart; each answer then travels to its node, a few ms, more on a
  // loaded machine. Counted in windows of 250 ms (five spacings), with one start of slack for that travel.
  const gaps = starts.slice(1).map((s, i) => s - starts[i]!)
  t.ok(mostInWindow(starts, 250) <= 6, `at most 6 starts in any 250 ms window (${mostInWindow(starts, 250)}; gaps ${gaps.join(', ')})`)
  t.ok(starts.at(-1)! - starts[0]! >= 15 * 50 - 30, `sixteen starts take at least fifteen spacings (${starts.at(-1)! - starts[0]!} ms)`)
})

test('an abort while waiting holds nothing', async (t) => {
  const { node } = await cluster(t)
  const [a, b] = [await node(), await node()]
  const limits: ServiceLimits = { key: 'k', concurrency: 1, ratePerSecond: 1 }
  const held = await a.limiter.acquire(limits, never())
  const gone = new AbortController()
  const waiting = b.limiter.acquire(limits, gone.signal)
  gone.abort(new Error('canceled'))
  await t.rejects(waiting, { message: 'canceled' })
  held()
  // The slot is free for b; its rate turn comes a second after a's start.
  const next = await b.limiter.acquire(limits, AbortSignal.timeout(10_000))
  next()
})

test('two servers on one database: jobs of a type with limits never run more than its concurrency across both', async (t) => {
  const database = await createTestDatabase()
  t.teardown(async () => { await database.drop() })
  let inHandler = 0
  let most = 0
  const ranOn = new Set<string>()
  const limited = (node: string): JobDefinition => defineJob({
    type: 'timbrar',
    input: Type.Object({}),
    limits: { key: 'pac', concurrency: 2 },
    async run () {
      inHandler++
      most = Math.max(most, inHandler)
      ranOn.add(node)
      await new Promise((resolve) => setTimeout(resolve, 30))
      inHandler--
      return null
    }
  }) as JobDefinition
  // Registered after the database's teardown: the servers close first.
  const apps = [
    await build(t, { databaseUrl: database.url, nodeId: 'n1', concurrency: 4, userConcurrency: 10, pollMs: 50 }, [limited('n1')]),
    await build(t, { databaseUrl: database.url, nodeId: 'n2', concurrency: 4, userConcurrency: 10, pollMs: 50 }, [limited('n2')])
  ]
  const jobs: JobView[] = []
  for (let i = 0; i < 12; i++) jobs.push(await startJob(apps[i % 2]!, 'alice', 'timbrar', {}))
  // A node hears other nodes' events without the job record: read the shared store until every job has ended.
  const ended = await pollUntil(async () => {
    const states = await Promise.all(jobs.map(async (job) => (await apps[0]!.jobcast.service.store.get(job.id))?.state))
    return states.every((s) => s === 'completed' || s === 'failed') ? states : undefined
  }, 'every job to end', 30_000, 50)
  t.same(ended, jobs.map(() => 'completed'))
  t.ok(most <= 2, `at most 2 handlers of the key at once across both servers (${most})`)
  t.same([...ranOn].sort(), ['n1', 'n2'], 'both servers ran jobs')
})
