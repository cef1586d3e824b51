// A PostgreSQL server of one test's own (initdb into a temporary folder, on a free port): for the cases that stop
// and restart the database, which must never happen to the machine's shared server.
import { execFile } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from '../../child-server.ts'
import type { Teardown } from '../../helper.ts'

/** A private PostgreSQL server: trust auth for `postgres`, on 127.0.0.1 only. */
export interface PrivateServer {
  /** The maintenance database's URL (what `createTestDatabase` takes). */
  url: string
  /** Stops it (fast: open connections are dropped) and waits until it is down. */
  stop: () => Promise<void>
  /** Starts it again on the same port and data, and waits until it accepts connections. */
  start: () => Promise<void>
  /** What it logged so far. */
  log: () => string
}

const run = promisify(execFile)
// Every pg_ctl or initdb call is bounded: a server that will not come up fails the test instead of hanging it.
const CALL_TIMEOUT_MS = 60_000

/** The newest installed PostgreSQL's bin folder (JOBCAST_TEST_PG_BIN overrides), or undefined when none is. */
export function postgresBin (): string | undefined {
  if (process.env.JOBCAST_TEST_PG_BIN !== undefined) return process.env.JOBCAST_TEST_PG_BIN
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const version = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(a) - Number(b)).at(-1)
  return version === undefined ? undefined : join(root, version, 'bin')
}

/**
 * Creates and starts a private server, stopped and removed on teardown; resolves with a reason instead when this
 * machine cannot run one (no PostgreSQL binaries, or initdb refused), for the caller to skip with.
 */
export async function startPrivateServer (t: Teardown): Promise<PrivateServer | string> {
  const bin = postgresBin()
  if (bin === undefined) return 'no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql: cannot start a private server'
  // initdb refuses to run as root: as root, the server's files and processes belong to the `postgres` OS user.
  const asRoot = process.getuid?.() === 0
  const dir = mkdtempSync(join(tmpdir(), 'jobcast-pg-'))
  const data = join(dir, 'data')
  const logFile = join(dir, 'server.log')
  const as = async (program: string, args: string[]): Promise<void> => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, program), ...args]] : [join(bin, program), args]
    await run(file, argv, { timeout: CALL_TIMEOUT_MS })
  }
  let created = false
  t.teardown(async () => {
    if (created) await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop']).catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })
  try {
    if (asRoot) chownSync(dir, Number((await run('id', ['-u', 'postgres'])).stdout), Number((await run('id', ['-g', 'postgres'])).stdout))
    // fsync off: the server's data is thrown away after the test; what is tested is the clients' side of a restart.
    await as('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'])
  } catch (err) {
    return `cannot create a private PostgreSQL server with ${bin}/initdb: ${(err as Error).message.split('\n')[0]}`
  }
  created = true
  const port = await freePort()
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`
  const start = async (): Promise<void> => { await as('pg_ctl', ['-D', data, '-l', logFile, '-o', options, '-w', '-t', '30', 'start']) }
  await start()
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => { await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']) },
    start,
    log: () => existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''
  }
}
