// JOBCAST_DATABASE_URL: empty selects the embedded SQLite adapters, a postgres:// URL the PostgreSQL ones; a URL
// that cannot be read, or a database that cannot be opened, stops the start with one line naming the variable.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { PgJobEvents } from '../src/adapters/postgres/pg-job-events.ts'
import { PgJobStore } from '../src/adapters/postgres/pg-job-store.ts'
import { PgUserStore } from '../src/adapters/postgres/pg-user-store.ts'
import { MemoryJobEvents } from '../src/adapters/memory/memory-job-events.ts'
import { SqliteJobStore } from '../src/adapters/sqlite/sqlite-job-store.ts'
import { SqliteUserStore } from '../src/adapters/sqlite/sqlite-user-store.ts'
import { loadConfig } from '../src/config.ts'
import { admin, createTestDatabase, SERVER_URL } from './adapters/postgres/test-database.ts'
import { CLI, freePort } from './child-server.ts'
import { build, startJob, tempDataDir } from './helper.ts'

const exec = promisify(execFile)

t.test('JOBCAST_DATABASE_URL set: the jobs, events and users are on PostgreSQL, nothing in the data folder', async (t) => {
  const database = await createTestDatabase()
  t.teardown(database.drop)
  const { databaseUrl } = loadConfig({ JOBCAST_DATABASE_URL: database.url })
  t.equal(databaseUrl, database.url)
  const dataDir = tempDataDir(t)
  const app = await build(t, { databaseUrl, dataDir })
  const { service, users } = app.jobcast
  t.ok(service.store instanceof PgJobStore, 'the job store is PostgreSQL\'s')
  t.ok(service.events instanceof PgJobEvents, 'so are the events (LISTEN/NOTIFY across nodes)')
  t.ok(users instanceof PgUserStore, 'and the users')
  const job = await startJob(app, 'alice', 'sleep', { seconds: 0 })
  const { rows } = await admin('SELECT owner FROM jobcast.jobs WHERE id = $1', [job.id], database.url)
  t.same(rows, [{ owner: 'alice' }], 'a start is a row in the database')
  t.notOk(existsSync(join(dataDir, 'jobcast.db')), 'no SQLite file in the data folder')
})

t.test('JOBCAST_DATABASE_URL empty (the default): the embedded SQLite adapters', async (t) => {
  const { databaseUrl } = loadConfig({})
  t.equal(databaseUrl, '')
  const dataDir = tempDataDir(t)
  const app = await build(t, { databaseUrl, dataDir })
  t.ok(app.jobcast.service.store instanceof SqliteJobStore)
  t.ok(app.jobcast.service.events instanceof MemoryJobEvents)
  t.ok(app.jobcast.users instanceof SqliteUserStore)
  await startJob(app, 'bob', 'sleep', { seconds: 0 })
  t.ok(existsSync(join(dataDir, 'jobcast.db')), 'kept in the data folder')
})

t.test('a URL that is not PostgreSQL\'s or cannot be read is refused, naming the variable and never echoing it', async (t) => {
  for (const value of ['mysql://db/x', 'postgres://user:hunter2@127.0.0.1:99999/x', 'postgres://user:hunter2@[::1/x']) {
    const err = t.throws(() => loadConfig({ JOBCAST_DATABASE_URL: value }), { message: /\bJOBCAST_DATABASE_URL\b/ }, value) as Error
    t.notMatch(err.message, 'hunter2', 'the password is not in the message')
  }
})

t.test('`jobcast serve` with a database it cannot open: exit 1, one line naming JOBCAST_DATABASE_URL, no stack, no password', async (t) => {
  const missing = new URL(SERVER_URL)
  missing.password = 'hunter2'
  missing.pathname = '/jobcast_no_such_database'
  const cases = [
    // Nothing listens there.
    [`postgres://postgres:hunter2@127.0.0.1:${await freePort()}/jobcast`, /ECONNREFUSED/],
    // The server is there (trust auth: the password is not checked), the database is not.
    [missing.toString(), /database "jobcast_no_such_database" does not exist/]
  ] as const
  for (const [url, said] of cases) {
    const env = { ...process.env, JOBCAST_DATABASE_URL: url, JOBCAST_DATA_DIR: tempDataDir(t), PORT: '0', LOG_LEVEL: 'fatal' }
    const { code, stderr } = await exec(process.execPath, [...CLI, 'serve'], { env, timeout: 30_000 }).then(
      (ran) => ({ code: 0, stderr: ran.stderr }),
      (err: { code: number, stderr: string }) => ({ code: err.code, stderr: err.stderr }))
    t.equal(code, 1, url)
    const lines = stderr.trim().split('\n')
    t.equal(lines.length, 1, `one line, no stack: ${stderr}`)
    t.match(lines[0], /^jobcast: cannot open the database of JOBCAST_DATABASE_URL \(postgres:\/\/\w+:\*\*\*@[^)]+\): /, 'naming the setting, its password hidden')
    t.match(lines[0], said, 'with what went wrong')
    t.notMatch(stderr, 'hunter2', 'and not the password')
  }
})
