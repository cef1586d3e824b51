import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { test } from 'tap'
import { LocalFileStore } from '../../src/adapters/local-file-store.ts'
import { MemoryJobEvents } from '../../src/adapters/memory/memory-job-events.ts'
import { openDatabase } from '../../src/adapters/sqlite/database.ts'
import { SqliteJobStore } from '../../src/adapters/sqlite/sqlite-job-store.ts'
import { SqliteUserStore } from '../../src/adapters/sqlite/sqlite-user-store.ts'
import app from '../../src/app.ts'
import plugin from '../../src/plugin.ts'
import type { JobRecord } from '../../src/core/model.ts'
import { AUTH, build, deferred, seedJobs, startJob, tempDataDir, testConfig, TOKENS, waitForState } from '../helper.ts'
import { startChildServer } from '../child-server.ts'

interface ErrorBody { statusCode: number, code: string, message: string }

const queuedJob = (id: string): JobRecord => ({
  id, type: 'sleep', owner: 'alice', state: 'queued', input: { seconds: 0 }, progress: null, result: null, error: null, preview: null,
  files: [], checkpoint: null, attempt: 1, maxAttempts: 1, createdAt: Date.now(), startedAt: null, finishedAt: null, runAt: Date.now(),
  batchId: null, idempotencyKey: null, requestHash: null, lease: null, version: 1
})

test('a commit that fails refuses the start with 503 STORE_UNAVAILABLE; /healthz says so until a commit succeeds', async (t) => {
  const dir = tempDataDir(t)
  const db = openDatabase(dir)
  const store = new SqliteJobStore(db, { onError: () => {} })
  const events = new MemoryJobEvents({ bufferSize: 100 })
  const users = new SqliteUserStore(db)
  const fastify = Fastify({ logger: false })
  await fastify.register(plugin, { config: testConfig(t, { dataDir: dir }), adapters: { store, events, files: new LocalFileStore(join(dir, 'files')), users } })
  t.teardown(async () => { await fastify.close(); db.close() })
  await fastify.ready()
  t.equal((await fastify.inject('/healthz')).statusCode, 200)

  db.pragma('query_only = ON') // every write now fails, as a broken disk would make it
  const refused = await fastify.inject({ method: 'POST', url: '/api/jobs/sleep', headers: AUTH.alice, payload: { seconds: 0 } })
  t.match({ ...refused.json<ErrorBody>(), statusCode: refused.statusCode }, { statusCode: 503, code: 'STORE_UNAVAILABLE' })
  const sick = await fastify.inject('/healthz')
  t.equal(sick.statusCode, 503)
  t.match(sick.json(), { status: 'unhealthy', store: { ok: false, error: /readonly|read-only/i } })
  t.same((await fastify.inject({ url: '/api/jobs', headers: AUTH.alice })).json<{ items: unknown[] }>().items, [], 'the refused start left no job')

  db.pragma('query_only = OFF')
  const accepted = await fastify.inject({ method: 'POST', url: '/api/jobs/sleep', headers: AUTH.alice, payload: { seconds: 0 } })
  t.equal(accepted.statusCode, 202, 'writes work again without a restart')
  t.equal((await fastify.inject('/healthz')).statusCode, 200, 'and the good commit cleared the error')
})

test('a failed commit of accepted changes is tried again: jobs do not stay running, and go on once the store writes again', async (t) => {
  const dir = tempDataDir(t)
  const db = openDatabase(dir)
  const recovered = deferred<number>()
  const store = new SqliteJobStore(db, { onError: () => {}, onRecovered: (attempts) => { recovered.resolve(attempts) }, retryBaseMs: 20 })
  const fastify = Fastify({ logger: false })
  await fastify.register(plugin, {
    config: testConfig(t, { dataDir: dir, concurrency: 1 }),
    adapters: { store, events: new MemoryJobEvents({ bufferSize: 100 }), files: new LocalFileStore(join(dir, 'files')), users: new SqliteUserStore(db) }
  })
  t.teardown(async () => { await fastify.close(); db.close() })
  await fastify.ready()
  const stored = (id: string): { state: string, finished_at: number | null } => db.prepare('SELECT state, finished_at FROM jobs WHERE id = ?').get(id) as { state: string, finished_at: number | null }

  const first = await startJob(fastify, 'alice', 'sleep', { seconds: 0.3, steps: 1 })
  const second = await startJob(fastify, 'alice', 'sleep', { seconds: 0, steps: 1 }) // queued behind it (concurrency 1)
  await waitForState(fastify, 'alice', first.id, 'running')
  db.pragma('query_only = ON') // the disk stops taking writes while the first job runs
  await waitForState(fastify, 'alice', first.id, 'completed')
  await waitForState(fastify, 'alice', second.id, 'completed')
  t.equal(stored(first.id).state, 'running', 'the file could not take the change')
  const sick = await fastify.inject('/healthz')
  t.equal(sick.statusCode, 503, '/healthz says the store cannot write')
  t.match((await fastify.inject({ url: `/api/jobs/${first.id}`, headers: AUTH.alice })).json(), { state: 'completed' }, 'a GET sees the accepted change meanwhile')
  t.match((await fastify.inject({ url: '/api/jobs', headers: AUTH.alice })).json(), { items: [{ id: second.id, state: 'completed' }, { id: first.id, state: 'completed' }] }, 'so does the list')

  db.pragma('query_only = OFF') // room again: no restart
  t.ok(await recovered.promise > 1, 'committed by a retry')
  for (const job of [first, second]) {
    const row = stored(job.id)
    t.equal(row.state, 'completed', 'the change reached the file')
    t.ok(row.finished_at !== null, 'never completed without finishedAt')
  }
  t.equal((await fastify.inject('/healthz')).statusCode, 200)
  t.equal((await fastify.inject({ method: 'POST', url: '/api/jobs/sleep', headers: AUTH.alice, payload: { seconds: 0 } })).statusCode, 202, 'and starts are taken')
})

test('an unfinished job whose row does not parse fails with CORRUPT_RECORD, its id logged; the server starts', async (t) => {
  const dir = tempDataDir(t)
  seedJobs(dir, [queuedJob('00000000000001corrupt'), queuedJob('00000000000002healthy')])
  const db = openDatabase(dir)
  db.prepare("UPDATE jobs SET input = '{\"seconds\": 0,' WHERE id = ?").run('00000000000001corrupt')
  db.close()
  const lines: string[] = []
  const fastify = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { lines.push(line) } } } })
  await fastify.register(app, { config: testConfig(t, { dataDir: dir }) })
  t.teardown(async () => { await fastify.close() })
  await fastify.ready()
  const corrupt = await fastify.inject({ url: '/api/jobs/00000000000001corrupt', headers: AUTH.alice })
  t.equal(corrupt.statusCode, 200, 'the job can be read')
  t.match(corrupt.json(), { state: 'failed', error: { code: 'CORRUPT_RECORD' }, input: null })
  t.ok(lines.some((l) => l.includes('00000000000001corrupt') && l.includes('CORRUPT_RECORD')), 'the id is logged')
  t.equal((await fastify.inject('/healthz')).statusCode, 200)
  const healthy = await fastify.jobcast.get('alice', '00000000000002healthy')
  t.not(healthy?.error?.code, 'CORRUPT_RECORD', 'the other job is untouched')
})

test('a database with damaged pages: the server refuses to start with DATABASE_CORRUPT, naming the file and how to recover', async (t) => {
  const dir = tempDataDir(t)
  seedJobs(dir, Array.from({ length: 300 }, (_, i) => ({ ...queuedJob(`0000000000${String(i).padStart(4, '0')}seeded`), input: { seconds: 0, pad: 'x'.repeat(500) } })))
  // Garbage over pages in the middle of the file (a bad sector, a torn copy), the header page left intact.
  const path = join(dir, 'jobcast.db')
  const pages = Math.floor(statSync(path).size / 4096)
  t.ok(pages > 10, `${pages} pages`)
  const fd = openSync(path, 'r+')
  writeSync(fd, Buffer.alloc(4096 * 3, 0xa5), 0, 4096 * 3, 4096 * Math.floor(pages / 2))
  closeSync(fd)
  const started = startChildServer(t, { JOBCAST_DATA_DIR: dir, JOBCAST_TOKENS: `alice:${TOKENS.alice}` })
  await t.rejects(started, /server exited with 1[\s\S]*DATABASE_CORRUPT: the database \S*jobcast\.db is damaged[\s\S]*\.recover/)
})

test('a damaged page met while running: 503 DATABASE_CORRUPT, never a 500, and /healthz 503 with the code', async (t) => {
  const dir = tempDataDir(t)
  const db = openDatabase(dir)
  const store = new SqliteJobStore(db, { onError: () => {} })
  const fastify = Fastify({ logger: false })
  await fastify.register(plugin, { config: testConfig(t, { dataDir: dir }), adapters: { store, events: new MemoryJobEvents({ bufferSize: 100 }), files: new LocalFileStore(join(dir, 'files')), users: new SqliteUserStore(db) } })
  t.teardown(async () => { await fastify.close(); db.close() })
  await fastify.ready()
  const job = await startJob(fastify, 'alice', 'sleep', { seconds: 0 })
  // What better-sqlite3 throws when a read lands on a damaged page.
  store.get = async () => { throw Object.assign(new Error('database disk image is malformed'), { code: 'SQLITE_CORRUPT' }) }
  const res = await fastify.inject({ url: `/api/jobs/${job.id}`, headers: AUTH.alice })
  t.equal(res.statusCode, 503)
  t.equal(res.json<ErrorBody>().code, 'DATABASE_CORRUPT')
  const health = await fastify.inject('/healthz')
  t.equal(health.statusCode, 503)
  t.match(health.json(), { status: 'unhealthy', store: { ok: false, code: 'DATABASE_CORRUPT', error: /damaged/ } })
})

test('upload folders that belong to no job are swept at start; a job\'s folder stays', async (t) => {
  const dir = tempDataDir(t)
  seedJobs(dir, [queuedJob('00000000000003withfile')])
  for (const id of ['00000000000003withfile', '00000000000004orphan']) {
    mkdirSync(join(dir, 'files', id, 'uploads'), { recursive: true })
    writeFileSync(join(dir, 'files', id, 'uploads', '1.csv.partial'), 'a,b\n')
  }
  await build(t, { dataDir: dir })
  t.same(readdirSync(join(dir, 'files')), ['00000000000003withfile'])
})

// A full disk, for real: a 6 MiB tmpfs holding the data folder, filled up by a file once the server runs.
const mountable = ((): string | false => {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs'
  const probe = mkdtempSync(join(tmpdir(), 'jobcast-tmpfs-probe-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' })
    execFileSync('umount', [probe], { stdio: 'ignore' })
    return false
  } catch {
    return 'mount -t tmpfs is not permitted here'
  } finally {
    rmSync(probe, { recursive: true, force: true })
  }
})()

test('a full disk: starts get 507 INSUFFICIENT_STORAGE, /healthz 503; once there is room, starts work again', { skip: mountable }, async (t) => {
  const mnt = mkdtempSync(join(tmpdir(), 'jobcast-full-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt])
  t.teardown(() => {
    try { execFileSync('umount', ['-l', mnt]) } catch {}
    rmSync(mnt, { recursive: true, force: true })
  })
  const server = await startChildServer(t, { JOBCAST_DATA_DIR: join(mnt, 'data'), JOBCAST_TOKENS: `alice:${TOKENS.alice}`, JOBCAST_BUILT_INS: 'sleep' })
  const start = async (): Promise<{ status: number, body: ErrorBody }> => {
    const res = await fetch(`${server.url}/api/jobs/sleep`, { method: 'POST', headers: { ...AUTH.alice, 'content-type': 'application/json' }, body: JSON.stringify({ seconds: 0, steps: 1 }) })
    return { status: res.status, body: await res.json() as ErrorBody }
  }
  t.equal((await start()).status, 202)
  // Fill what is left, then ask for more: the commit cannot grow the WAL.
  const filler = join(mnt, 'filler')
  try { execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' }) } catch {}
  let refused: { status: number, body: ErrorBody } | undefined
  for (let i = 0; i < 2000 && refused === undefined; i++) {
    const outcome = await start()
    if (outcome.status !== 202) refused = outcome
  }
  t.ok(refused !== undefined, 'a start was refused once the disk was full')
  t.match(refused, { status: 507, body: { code: 'INSUFFICIENT_STORAGE' } })
  const health = await fetch(`${server.url}/healthz`)
  t.equal(health.status, 503, '/healthz says the store cannot write')
  rmSync(filler)
  t.equal((await start()).status, 202, 'room again: a start is taken without a restart')
  t.equal((await fetch(`${server.url}/healthz`)).status, 200)
})
