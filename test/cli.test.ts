import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { test } from 'tap'
import { openDatabase } from '../src/adapters/sqlite/database.ts'
import { hashSecret } from '../src/adapters/sqlite/sqlite-user-store.ts'
import { main } from '../src/cli/main.ts'
import { CLI, freePort, pollUntil, startChildServer } from './child-server.ts'
import { tempDataDir } from './helper.ts'

const exec = promisify(execFile)
// Absolute, so that the CLI also runs from another working directory (the .env case).
const CLI_FROM_ANYWHERE = ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('../src/cli.ts', import.meta.url))]

interface Ran { code: number, stdout: string, stderr: string }

/** Runs `jobcast ...args` to its end; resolves with its exit code and output, also when it fails. */
async function jobcast (args: string[], env: Record<string, string> = {}, cwd = process.cwd()): Promise<Ran> {
  const argv = cwd === process.cwd() ? CLI : CLI_FROM_ANYWHERE
  return await exec(process.execPath, [...argv, ...args], { cwd, env: { ...process.env, ...env }, timeout: 30_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number, stdout: string, stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr })
  )
}

function tokenRows (dataDir: string): Array<{ hash: string, user_name: string }> {
  const db = openDatabase(dataDir)
  try {
    return db.prepare('SELECT hash, user_name FROM tokens').all() as Array<{ hash: string, user_name: string }>
  } finally {
    db.close()
  }
}

test('`jobcast token create dave` prints only the token on stdout; it is stored hashed', async (t) => {
  const dataDir = tempDataDir(t)
  const { code, stdout, stderr } = await jobcast(['token', 'create', 'dave'], { JOBCAST_DATA_DIR: dataDir })
  t.equal(code, 0)
  t.match(stdout, /^[A-Za-z0-9_-]{43}\n$/, 'stdout is the token and a newline, nothing else: T=$(jobcast token create dave) works')
  const token = stdout.trim()
  t.match(stderr, 'dave', 'what a person reads goes to stderr')
  t.notMatch(stderr, token, 'the token is not repeated where logs might keep it')
  t.same(tokenRows(dataDir), [{ hash: hashSecret(token), user_name: 'dave' }])
})

test('`jobcast token list` lists users and their token counts; `token revoke` of no such user fails', async (t) => {
  const env = { JOBCAST_DATA_DIR: tempDataDir(t) }
  await jobcast(['token', 'create', 'erin'], env)
  await jobcast(['token', 'create', 'erin'], env)
  await jobcast(['token', 'create', 'dave'], env)
  const list = await jobcast(['token', 'list'], env)
  t.equal(list.code, 0)
  t.match(list.stdout, /^dave\t1 token\tsince \S+\nerin\t2 tokens\tsince \S+\n$/)
  const missing = await jobcast(['token', 'revoke', 'zoe'], env)
  t.equal(missing.code, 1)
  t.match(missing.stderr, /no user "zoe"/)
})

/** Runs the CLI's main() in this process (no child to start): its exit code and what it wrote. */
async function mainInProcess (args: string[]): Promise<{ code: number | undefined, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await main(args, { stdout: { write: (text) => { stdout += text } }, stderr: { write: (text) => { stderr += text } } })
  return { code, stdout, stderr }
}

test('wrong usage: a message on stderr naming the problem, the usage, exit 2', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /a command is needed/],
    [['launch'], /unknown command "launch"/],
    [['token'], /token needs an action/],
    [['token', 'create'], /token create needs a user name/],
    [['token', 'create', 'b@d'], /"b@d" is not a user name/],
    [['token', 'create', 'a', 'b'], /takes one user/],
    [['token', 'revoke'], /token revoke needs a user name/],
    [['token', 'rotate', 'a'], /unknown token action "rotate"/],
    [['token', 'list', '--all'], /unknown option --all/],
    [['serve', '--port', 'abc'], /--port needs a port number/],
    [['serve', '--port', '70000'], /--port needs a port number/],
    [['serve', '--job', 'x'], /Unknown option '--job'/],
    [['serve', 'extra'], /serve: /],
    [['serve', '--jobs'], /--jobs/]
  ]
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = await mainInProcess(args)
    t.equal(code, 2, `jobcast ${args.join(' ')}: exit 2`)
    t.match(stderr, message, `jobcast ${args.join(' ')}: says what is wrong`)
    t.match(stderr, /usage: jobcast <command>/)
    t.equal(stdout, '', 'nothing on stdout')
  }
  // The same through the program: the exit code reaches the shell.
  const ran = await jobcast(['token', 'create'])
  t.equal(ran.code, 2)
  t.match(ran.stderr, /^jobcast: token create needs a user name/)
})

test('--help and -h print the usage on stdout and exit 0, also through bin/jobcast.js', async (t) => {
  for (const args of [['--help'], ['-h'], ['help'], ['serve', '--help'], ['token', '-h']]) {
    const { code, stdout, stderr } = await mainInProcess(args)
    t.equal(code, 0, args.join(' '))
    t.match(stdout, /jobcast serve \[--jobs DIR\] \[--port N\] \[--host H\]/)
    t.match(stdout, /jobcast token revoke <user>/)
    t.equal(stderr, '')
  }
  const bin = await exec(process.execPath, ['bin/jobcast.js', '--help'], { timeout: 30_000 })
  t.match(bin.stdout, /usage: jobcast <command>/)
})

test('the CLI reads .env from the current folder; the environment wins over it', async (t) => {
  const cwd = tempDataDir(t)
  const fromFile = join(cwd, 'data-from-env-file')
  writeFileSync(join(cwd, '.env'), `# a comment\nJOBCAST_DATA_DIR=${fromFile}\n`)
  const created = await jobcast(['token', 'create', 'frank'], {}, cwd)
  t.equal(created.code, 0, created.stderr)
  t.same(tokenRows(fromFile).map((r) => r.user_name), ['frank'], 'the token went to the folder .env names')

  const fromEnv = tempDataDir(t)
  const overridden = await jobcast(['token', 'create', 'gina'], { JOBCAST_DATA_DIR: fromEnv }, cwd)
  t.equal(overridden.code, 0, overridden.stderr)
  t.same(tokenRows(fromEnv).map((r) => r.user_name), ['gina'], 'JOBCAST_DATA_DIR in the environment beats .env')
  t.same(tokenRows(fromFile).map((r) => r.user_name), ['frank'])

  writeFileSync(join(cwd, '.env'), 'JOBCAST_CONCURRENCY=lots\n')
  const bad = await jobcast(['token', 'list'], { JOBCAST_DATA_DIR: fromEnv }, cwd)
  t.equal(bad.code, 1)
  t.match(bad.stderr, /JOBCAST_CONCURRENCY/, 'a bad value in .env is named')
})

test('`jobcast serve --jobs examples/jobs` serves the example job type besides the built-ins', async (t) => {
  const dataDir = tempDataDir(t)
  const token = (await jobcast(['token', 'create', 'alice'], { JOBCAST_DATA_DIR: dataDir })).stdout.trim()
  const server = await startChildServer(t, { JOBCAST_DATA_DIR: dataDir }, ['--jobs', 'examples/jobs'])
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }

  const types = await (await fetch(`${server.url}/api/job-types`, { headers: auth })).json() as Array<{ type: string }>
  t.same(types.map((x) => x.type).sort(), ['csv-profile', 'documents', 'sleep', 'word-count'].sort(), 'the default built-ins (http-check is opt-in) and the example')
  const started = await fetch(`${server.url}/api/jobs/word-count`, { method: 'POST', headers: auth, body: JSON.stringify({ texts: ['the cat sat', 'the cat ran'], top: 2 }) })
  t.equal(started.status, 202)
  const { id } = await started.json() as { id: string }
  const done = await pollUntil(async () => {
    const job = await (await fetch(`${server.url}/api/jobs/${id}`, { headers: auth })).json() as { state: string }
    return job.state === 'queued' || job.state === 'running' ? undefined : job
  }, 'the word-count job to finish')
  t.match(done, { state: 'completed', result: { texts: 2, words: 6, distinct: 4, top: [{ word: 'cat', count: 2 }, { word: 'the', count: 2 }] } })
})

test('`jobcast serve --port N --host H` win over PORT and HOST', async (t) => {
  const port = await freePort()
  // The helper sets PORT to a port of its own; the flag must win.
  const server = await startChildServer(t, { JOBCAST_DATA_DIR: tempDataDir(t), HOST: 'localhost' }, ['--port', String(port), '--host', '127.0.0.1'])
  t.match(server.output(), `Server listening at http://127.0.0.1:${port}`)
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200)
})

test('`jobcast serve --jobs DIR` refuses a file that does not default-export a job type, naming it (exit 1)', async (t) => {
  const dir = tempDataDir(t)
  mkdirSync(join(dir, 'jobs'))
  writeFileSync(join(dir, 'jobs', 'broken.mjs'), 'export const notDefault = 1\n')
  const { code, stderr } = await jobcast(['serve', '--jobs', join(dir, 'jobs'), '--port', '0'], { JOBCAST_DATA_DIR: join(dir, 'data') })
  t.equal(code, 1)
  t.match(stderr, /broken\.mjs must default-export a job type/)
})

test('`jobcast token revoke` makes a token and its sessions answer 401 at once on a running server', async (t) => {
  const dataDir = tempDataDir(t)
  const env = { JOBCAST_DATA_DIR: dataDir }
  const token = (await jobcast(['token', 'create', 'alice'], env)).stdout.trim()
  const bobs = (await jobcast(['token', 'create', 'bob'], env)).stdout.trim()
  const server = await startChildServer(t, env)
  const asAlice = { authorization: `Bearer ${token}` }
  t.equal((await fetch(`${server.url}/api/jobs`, { headers: asAlice })).status, 200, 'the token works')
  const session = await fetch(`${server.url}/api/session`, { method: 'POST', headers: asAlice })
  const cookie = String(session.headers.get('set-cookie')).split(';')[0]!
  t.equal((await fetch(`${server.url}/api/jobs`, { headers: { cookie } })).status, 200, 'so does its session cookie')

  const revoked = await jobcast(['token', 'revoke', 'alice'], env)
  t.equal(revoked.code, 0, revoked.stderr)
  t.match(revoked.stderr, /revoked 1 token and every session of "alice"/)
  // The very next requests, no restart: the server looks every token up in the store.
  const after = await fetch(`${server.url}/api/jobs`, { headers: asAlice })
  t.equal(after.status, 401)
  t.equal((await after.json() as { code: string }).code, 'UNAUTHORIZED')
  t.equal((await fetch(`${server.url}/api/jobs`, { headers: { cookie } })).status, 401, 'the session ends too')
  t.equal((await fetch(`${server.url}/api/jobs`, { headers: { authorization: `Bearer ${bobs}` } })).status, 200, "another user's token still works")
})

test('bin/jobcast.js runs dist/cli.js when there is one, else src/cli.ts through tsx; it warns of a build older than src/', async (t) => {
  const root = tempDataDir(t)
  cpSync('bin', join(root, 'bin'), { recursive: true })
  cpSync('package.json', join(root, 'package.json'))
  symlinkSync(join(process.cwd(), 'node_modules'), join(root, 'node_modules'), 'dir')
  symlinkSync(join(process.cwd(), 'src'), join(root, 'src'), 'dir')
  const bin = async (): Promise<{ stdout: string, stderr: string }> => await exec(process.execPath, [join(root, 'bin/jobcast.js'), '--help'], { cwd: root, timeout: 30_000 })

  const fromSources = await bin()
  t.match(fromSources.stdout, /usage: jobcast <command>/, 'a checkout without a build runs the sources')

  mkdirSync(join(root, 'dist'))
  writeFileSync(join(root, 'dist/cli.js'), "process.stdout.write('the build ran\\n')\n")
  utimesSync(join(root, 'dist/cli.js'), new Date('2000-01-01'), new Date('2000-01-01'))
  const stale = await bin()
  t.equal(stale.stdout, 'the build ran\n', 'a build is preferred')
  t.match(stale.stderr, /src\/ changed since the last build/, 'and one older than the sources is pointed out')

  rmSync(join(root, 'src'))
  const installed = await bin()
  t.equal(installed.stdout, 'the build ran\n')
  t.equal(installed.stderr, '', 'an installed package (no src/) runs its build without a word')
})
