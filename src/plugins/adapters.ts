import type { Logger } from 'pino'
import { filesDirOf, redactUrl, type Config } from '../config.ts'
import { LocalFileStore } from '../adapters/local-file-store.ts'
import type { openPostgres } from '../adapters/postgres/index.ts'
import { openEmbeddedAdapters, type Adapters } from './embedded-adapters.ts'

export type { Adapters } from './embedded-adapters.ts'

/**
 * The adapters `config` selects: PostgreSQL (jobs, events, users, service limits) when `databaseUrl` is set, for one node of a
 * cluster (no data-folder lock: every node shares the database); otherwise the embedded SQLite ones. Files are
 * under `filesDir` either way.
 */
export async function openAdapters (config: Config, log: Logger): Promise<Adapters> {
  if (config.databaseUrl === '') return await openEmbeddedAdapters(config, log)
  let pg: Awaited<ReturnType<typeof openPostgres>>
  try {
    // Loaded only by a node on PostgreSQL: the driver and the adapters are ~15 MiB of an embedded server's memory.
    const { openPostgres } = await import('../adapters/postgres/index.ts')
    pg = await openPostgres(config.databaseUrl, {
      log: log.child({ component: 'postgres' }),
      // Events older than the retention or beyond the replay buffer of a user are pruned; a cursor before them gets a snapshot.
      events: { retention: { maxPerOwner: Math.max(1, config.replayBuffer) } }
    })
  } catch (err) {
    throw databaseOpenError(config.databaseUrl, err)
  }
  return { store: pg.jobs, events: pg.events, files: new LocalFileStore(filesDirOf(config)), users: pg.users, limiter: pg.limiter, close: pg.close }
}

/**
 * The error to stop a start with when the database of `url` cannot be opened: the operator's next step is the
 * setting, so it is named, with what the server said (no stack, no password).
 */
export function databaseOpenError (url: string, err: unknown): Error {
  return new Error(`cannot open the database of JOBCAST_DATABASE_URL (${redactUrl(url)}): ${(err as Error).message}`, { cause: err })
}
