// `jobcast token` and `jobcast webhook-secret` with JOBCAST_DATABASE_URL set: on the PostgreSQL user store every node
// reads, never on a SQLite file of the data folder.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import t from 'tap'
import { hashSecret } from '../src/adapters/sqlite/sqlite-user-store.ts'
import { createTestDatabase } from './adapters/postgres/test-database.ts'
import { CLI, startChildServer } from './child-server.ts'
import { tempDataDir, type Teardown } from './helper.ts'

const exec = promisify(execFile)

interface Ran { code: number, stdout: string, stderr: string }

/** Runs `jobcast ...args` to its end with `env`; resolves with its exit code and output, also when it fails. */
async function jobcast (args: string[], env: Record<string, string>): Promise<Ran> {
  return await exec(process.execPath, [...CLI, ...args], { env: { ...process.env, ...env }, timeout: 30_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number, stdout: string, stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr })
  )
}

// A database of its own (dropped on teardown), a data folder that must stay without a SQLite file, and a pool to look.
async function setUp (t: Teardown): Promise<{ env: Record<string, string>, dataDir: string, db: pg.Pool, name: string }> {
  const database = await createTestDatabase()
  const db = new pg.Pool({ connectionString: database.url, max: 2 })
  t.teardown(async () => { await db.end(); await database.drop() })
  const dataDir = tempDataDir(t)
  return { env: { JOBCAST_DATABASE_URL: database.url, JOBCAST_DATA_DIR: dataDir }, dataDir, db, name: database.name }
}

t.test('token create, list and revoke work on the PostgreSQL user store', async (t) => {
  const { env, dataDir, db, name } = await setUp(t)
  const created = await jobcast(['token', 'create', 'dave'], env)
  t.equal(created.code, 0, created.stderr)
  t.match(created.stdout, /^[A-Za-z0-9_-]{43}\n$/, 'stdout is the token alone, as on SQLite')
  const token = created.stdout.trim()
  const { rows } = await db.query('SELECT hash, user_name FROM jobcast.tokens')
  t.same(rows, [{ hash: hashSecret(token), user_name: 'dave' }], 'stored hashed in the database')
  t.notOk(existsSync(join(dataDir, 'jobcast.db')), 'no SQLite file was made in the data folder')

  await jobcast(['token', 'create', 'erin'], env)
  await jobcast(['token', 'create', 'erin'], env)
  const list = await jobcast(['token', 'list'], env)
  t.equal(list.code, 0, list.stderr)
  t.match(list.stdout, /^dave\t1 token\tsince \S+\nerin\t2 tokens\tsince \S+\n$/)

  const revoked = await jobcast(['token', 'revoke', 'erin'], env)
  t.equal(revoked.code, 0, revoked.stderr)
  t.match(revoked.stderr, /revoked 2 tokens and every session of "erin"/)
  t.same((await db.query("SELECT count(*)::int AS n FROM jobcast.tokens WHERE user_name = 'erin'")).rows, [{ n: 0 }])
  const missing = await jobcast(['token', 'revoke', 'zoe'], env)
  t.equal(missing.code, 1)
  t.match(missing.stderr, `no user "zoe" in the database ${name} on 127.0.0.1:5432`, 'the message names the database, not a folder')
})

t.test('webhook-secret prints the secret kept in the database, the same every time', async (t) => {
  const { env, db } = await setUp(t)
  const first = await jobcast(['webhook-secret', 'dave'], env)
  t.equal(first.code, 0, first.stderr)
  t.match(first.stdout, /^whsec_\S+\n$/)
  const { rows } = await db.query<{ secret: string }>("SELECT secret FROM jobcast.webhook_secrets WHERE owner = 'dave'")
  t.equal(rows[0]?.secret, first.stdout.trim(), 'it is the one the nodes sign with')
  t.equal((await jobcast(['webhook-secret', 'dave'], env)).stdout, first.stdout, 'printed again, not replaced')
})

t.test('token revoke on a PostgreSQL cluster: the token and its sessions answer 401 at once on a running node', async (t) => {
  const { env } = await setUp(t)
  const alice = (await jobcast(['token', 'create', 'alice'], env)).stdout.trim()
  const server = await startChildServer(t, env)
  // Created while the node runs: it caches no token, so it knows this one from the next request.
  const bob = (await jobcast(['token', 'create', 'bob'], env)).stdout.trim()
  const asAlice = { authorization: `Bearer ${alice}` }
  t.equal((await fetch(`${server.url}/api/jobs`, { headers: asAlice })).status, 200, 'the token works')
  t.equal((await fetch(`${server.url}/api/jobs`, { headers: { authorization: `Bearer ${bob}` } })).status, 200, 'so does one created after the start')
  const session = await fetch(`${server.url}/api/session`, { method: 'POST', headers: asAlice })
  const cookie = String(session.headers.get('set-cookie')).split(';')[0]!
  t.equal((await fetch(`${server.url}/api/jobs`, { headers: { cookie } })).status, 200, 'and its session cookie')

  const revoked = await jobcast(['token', 'revoke', 'alice'], env)
  t.equal(revoked.code, 0, revoked.stderr)
  const after = await fetch(`${server.url}/api/jobs`, { headers: asAlice })
  t.equal(after.status, 401, 'the very next request, no restart')
  t.equal((await after.json() as { code: string }).code, 'UNAUTHORIZED')
  t.equal((await fetch(`${server.url}/api/jobs`, { headers: { cookie } })).status, 401, 'the session ends too')
  t.equal((await fetch(`${server.url}/api/jobs`, { headers: { authorization: `Bearer ${bob}` } })).status, 200, "another user's token still works")
})
