// jobcast nodes for the PostgreSQL benchmarks: `jobcast serve` processes on one database, and the database.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { freePort } from '../../test/child-server.ts'
import { killChild } from './lib.ts'

/** The PostgreSQL server the benchmarks use (JOBCAST_BENCH_PG_URL overrides). */
const SERVER_URL = process.env.JOBCAST_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

async function admin (sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: SERVER_URL })
  await client.connect()
  try { await client.query(sql) } finally { await client.end() }
}

/** A new empty database, and how to drop it. */
export async function createDatabase (): Promise<{ url: string, drop: () => Promise<void> }> {
  const name = `jobcast_bench_${randomBytes(4).toString('hex')}`
  await admin(`CREATE DATABASE ${name}`)
  const url = new URL(SERVER_URL)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: async () => { await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) } }
}

/** One `jobcast serve` process. */
export interface BenchNode {
  id: string
  url: string
  /** The bench user's Authorization header. */
  auth: Record<string, string>
  /** The Authorization header of bench user `i` (0 is `bench`; see `users` of startNodes). */
  authOf: (i: number) => Record<string, string>
  stop: () => Promise<void>
}

const TOKEN = 'bench-token-0000000001'
// The token of bench user i: `bench` for 0, `bench<i>` after.
const tokenOf = (i: number): string => i === 0 ? TOKEN : `bench-token-${String(i).padStart(10, '0')}`
const userOf = (i: number): string => i === 0 ? 'bench' : `bench${i}`

/** Starts `count` nodes on `databaseUrl` with the benchmark job types (no-op, tick); resolves once all answer /healthz. */
export async function startNodes (databaseUrl: string, count: number, env: Record<string, string> = {}, users = 1): Promise<BenchNode[]> {
  const root = mkdtempSync(join(tmpdir(), 'jobcast-bench-'))
  return await Promise.all(Array.from({ length: count }, async (_, i) => {
    const id = `n${i + 1}`
    const port = await freePort()
    // NODE_ARGS: extra Node flags for the nodes only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    const nodeArgs = (process.env.NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '')
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/cli.ts', 'serve', '--jobs', 'scripts/bench/pg-jobs'], {
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'warn',
        JOBCAST_DATABASE_URL: databaseUrl,
        JOBCAST_NODE_ID: id,
        JOBCAST_DATA_DIR: join(root, id),
        JOBCAST_FILES_DIR: join(root, 'files'),
        JOBCAST_TOKENS: Array.from({ length: users }, (_, u) => `${userOf(u)}:${tokenOf(u)}`).join(','),
        JOBCAST_USER_CONCURRENCY: '10000',
        JOBCAST_MAX_QUEUED_PER_USER: '10000000',
        // One bench user starts every job: the per-user start limit (1200 a minute by default) would answer 429.
        JOBCAST_RATE_STARTS: '100000000',
        JOBCAST_PROGRESS_INTERVAL_MS: '0',
        JOBCAST_BUILT_INS: '',
        ...env
      },
      stdio: ['ignore', 'inherit', 'inherit']
    })
    const url = `http://127.0.0.1:${port}`
    const deadline = Date.now() + 60_000
    while ((await fetch(`${url}/healthz`).then((r) => r.status, () => 0)) !== 200) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`node ${id} did not start`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    return {
      id,
      url,
      auth: { authorization: `Bearer ${TOKEN}` },
      authOf: (u) => ({ authorization: `Bearer ${tokenOf(u)}` }),
      stop: async () => {
        // CPU_REPORT=1: the node's CPU seconds (user + system) to stderr, before it is stopped.
        if (process.env.CPU_REPORT === '1') {
          const fields = readFileSync(`/proc/${child.pid!}/stat`, 'utf8').split(') ')[1]!.split(' ')
          process.stderr.write(`cpu ${id}: ${((Number(fields[11]) + Number(fields[12])) / 100).toFixed(2)} s\n`)
        }
        const exited = new Promise((resolve) => child.once('exit', resolve))
        killChild(child)
        await exited
        rmSync(join(root, id), { recursive: true, force: true })
      }
    }
  }))
}
