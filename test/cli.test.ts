import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { test } from 'tap'
import { openDatabase } from '../src/adapters/sqlite/database.ts'
import { hashSecret } from '../src/adapters/sqlite/sqlite-user-store.ts'
import { build, tempDataDir } from './helper.ts'

const run = promisify(execFile)
const CLI = ['--import', 'tsx', 'src/cli.ts']

test('`jobcast token create dave` prints a token that authenticates, stored only hashed', async (t) => {
  const dataDir = tempDataDir(t)
  const { stdout, stderr } = await run(process.execPath, [...CLI, 'token', 'create', 'dave'], { env: { ...process.env, JOBCAST_DATA_DIR: dataDir } })
  const token = stdout.trim()
  t.match(token, /^[A-Za-z0-9_-]{20,}$/, 'stdout is the token alone')
  t.match(stderr, 'dave')

  const db = openDatabase(dataDir)
  const rows = db.prepare('SELECT hash, user_name FROM tokens').all() as Array<{ hash: string, user_name: string }>
  db.close()
  t.same(rows, [{ hash: hashSecret(token), user_name: 'dave' }])
  t.notOk(rows.some((r) => r.hash.includes(token)), 'the clear token is not in the tokens table')

  const app = await build(t, { dataDir })
  const res = await app.inject({ method: 'GET', url: '/api/jobs', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 200)
  const started = await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers: { authorization: `Bearer ${token}` }, payload: { seconds: 0 } })
  t.equal(started.json<{ owner: string }>().owner, 'dave')
})

test('the CLI prints its usage and exits 2 on a wrong command', async (t) => {
  const dataDir = tempDataDir(t)
  const failed = await run(process.execPath, [...CLI, 'token', 'create'], { env: { ...process.env, JOBCAST_DATA_DIR: dataDir } }).then(() => undefined, (err: unknown) => err as { code: number, stderr: string })
  t.equal(failed?.code, 2)
  t.match(failed?.stderr, /usage: jobcast token create <user>/)
})
