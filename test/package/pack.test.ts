import { execFile, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'
import { test } from 'tap'
import { pollUntil } from '../child-server.ts'

// The package as a user gets it: `npm pack` of a copy of the checkout (the build runs in `prepare`), installed from
// the tarball into a fresh project beside fastify, as plain JavaScript and as a strict TypeScript consumer.

const run = promisify(execFile)
const ROOT = process.cwd()
const FIXTURES = join(ROOT, 'test/package/fixtures')
// What `npm pack` needs of the checkout; the copy keeps this test's build out of the worktree's dist/.
const PACKED_FROM = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs', 'src', 'bin', 'examples', 'README.md', 'LICENSE', '.env.example']

interface Installed { project: string, tarball: string }

/** Packs a copy of the checkout and installs the tarball into a new project; removes both on teardown. */
async function packAndInstall (t: { teardown: (fn: () => void) => void }): Promise<Installed> {
  const work = mkdtempSync(join(tmpdir(), 'jobcast-pack-'))
  t.teardown(() => { rmSync(work, { recursive: true, force: true }) })
  const source = join(work, 'source')
  for (const path of PACKED_FROM) if (existsSync(join(ROOT, path))) cpSync(join(ROOT, path), join(source, path), { recursive: true })
  symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir')
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: source, maxBuffer: 64 * 1024 * 1024 })
  const tarball = join(work, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename)

  const project = join(work, 'host')
  cpSync(FIXTURES, project, { recursive: true })
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'host-app', private: true, type: 'module' }))
  // --ignore-scripts, then the checkout's compiled better-sqlite3 when it is the same version: compiling it again
  // from source takes minutes here. The package's own files and dependency tree are what npm installed.
  await run('npm', ['install', tarball, 'fastify', '@fastify/multipart', 'typebox', '@types/node@20', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: project, maxBuffer: 64 * 1024 * 1024 })
  const addon = 'node_modules/better-sqlite3'
  const version = (dir: string): string => (JSON.parse(readFileSync(join(dir, addon, 'package.json'), 'utf8')) as { version: string }).version
  if (version(project) === version(ROOT)) cpSync(join(ROOT, addon, 'build'), join(project, addon, 'build'), { recursive: true })
  else await run('npm', ['rebuild', 'better-sqlite3'], { cwd: project })
  return { project, tarball }
}

test('the packed package', async (t) => {
  const { project, tarball } = await packAndInstall(t)

  await t.test('ships dist/ with declarations, the bin, the examples and the licence, and no sources or tests', async (t) => {
    const { stdout } = await run('tar', ['tzf', tarball])
    const files = stdout.split('\n')
    for (const file of ['package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/cli.js', 'package/bin/jobcast.js', 'package/examples/jobs/word-count.mjs', 'package/LICENSE', 'package/README.md']) {
      t.ok(files.includes(file), file)
    }
    t.notOk(files.some((f) => f.startsWith('package/src/') || f.startsWith('package/test/')), 'no src/ or test/')
    // Files src/ needs at run time that tsc does not emit (a dashboard's .html/.js/.css) are copied by the build.
    const assets = readdirSync('src', { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && !/\.(ts|md)$/.test(e.name))
      .map((e) => `package/dist/${relative('src', join(e.parentPath, e.name))}`)
    for (const asset of assets) t.ok(files.includes(asset), asset)
    t.notOk(files.some((f) => /\.d\.ts$/.test(f) && readFileSync(join(project, 'node_modules/jobcast', f.slice('package/'.length)), 'utf8').match(/from '\.{1,2}\/[^']*\.ts'/)), 'declarations import .js paths')
  })

  await t.test('its jobcast command runs from dist/', async (t) => {
    const { stdout } = await run(process.execPath, [join(project, 'node_modules/.bin/jobcast'), '--help'], { cwd: project })
    t.match(stdout, /usage: jobcast <command>/)
  })

  await t.test('a plain .mjs host mounts it under /jobs beside its own /docs, /healthz, multipart and auth', async (t) => {
    const dataDir = join(project, 'data')
    const child = spawn(process.execPath, ['host-app.mjs'], { cwd: project, env: { ...process.env, DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
    t.teardown(async () => { if (child.exitCode === null) child.kill('SIGKILL'); await exited })
    let output = ''
    const base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`the host did not listen within 30 s:\n${output}`)) }, 30_000)
      const collect = (chunk: Buffer): void => {
        output += chunk.toString()
        const match = /listening (http:\S+)/.exec(output)
        if (match !== null) { clearTimeout(timer); resolve(match[1]!) }
      }
      child.stdout.on('data', collect)
      child.stderr.on('data', collect)
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the host exited with ${code}:\n${output}`)) })
    })
    const alice = { 'x-user': 'alice', 'content-type': 'application/json' }

    t.same(await (await fetch(`${base}/docs`)).json(), { host: 'docs' }, 'the host keeps its /docs')
    t.same(await (await fetch(`${base}/healthz`)).json(), { host: 'healthz' }, 'the host keeps its /healthz')
    t.equal((await fetch(`${base}/jobs/healthz`)).status, 200, "jobcast's health is under the prefix")
    t.equal((await fetch(`${base}/jobs/api/jobs`)).status, 401, 'no user from the host authenticate: 401')

    const started = await fetch(`${base}/jobs/api/jobs/shout`, { method: 'POST', headers: alice, body: JSON.stringify({ text: 'hello' }) })
    t.equal(started.status, 202)
    const view = await started.json() as { id: string, url: string }
    t.equal(started.headers.get('location'), `/jobs/api/jobs/${view.id}`, 'Location carries the prefix')
    t.equal(view.url, `/jobs/api/jobs/${view.id}`, 'so does the job url')
    const resolved = await fetch(`${base}${started.headers.get('location')}`, { headers: alice })
    t.equal(resolved.status, 200, 'Location resolves')
    t.equal((await fetch(`${base}/jobs/api/jobs/${view.id}`, { headers: { 'x-user': 'bob' } })).status, 404, "another user's job is a 404")
    const done = await pollUntil(async () => {
      const job = await (await fetch(`${base}/jobs/api/jobs/${view.id}`, { headers: alice })).json() as { state: string, result: unknown }
      return job.state === 'completed' || job.state === 'failed' ? job : undefined
    }, 'the shout job to finish')
    t.match(done, { state: 'completed', result: { text: 'HELLO' } }, 'the custom job type completes')

    const form = new FormData()
    form.append('file', new Blob([readFileSync(join(project, 'node_modules/jobcast/examples/orders.csv'))], { type: 'text/csv' }), 'orders.csv')
    const upload = await fetch(`${base}/jobs/api/jobs/csv-profile`, { method: 'POST', headers: { 'x-user': 'alice' }, body: form })
    t.equal(upload.status, 202, "an upload works beside the host's own @fastify/multipart")

    const fromHost = await fetch(`${base}/reports`, { method: 'POST' })
    t.equal(fromHost.status, 202)
    const { id } = await fromHost.json() as { id: string }
    t.equal((await fetch(`${base}/jobs/api/jobs/${id}`, { headers: alice })).status, 200, "a host route starts jobs through fastify.jobcast")
  })

  await t.test('a strict TypeScript consumer (nodenext, exactOptionalPropertyTypes) type-checks with no error', async (t) => {
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        types: ['node'],
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        // As `tsc --init` sets it. jobcast ships declarations only (no .ts source, checked above), so nothing of
        // it is type-checked as source; skipLibCheck: false gives the same answer, 6x slower (typebox's types).
        skipLibCheck: true,
        noEmit: true
      },
      files: ['consumer.ts']
    }))
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc')
    const result = await run(process.execPath, [tsc, '-p', project], { cwd: project }).then(() => '', (err: { stdout: string }) => err.stdout)
    t.equal(result, '', 'tsc --noEmit reports nothing')
  })
})
