import { openDatabase } from '../adapters/sqlite/database.ts'
import { SqliteOutbox } from '../adapters/sqlite/sqlite-outbox.ts'
import { SqliteUserStore } from '../adapters/sqlite/sqlite-user-store.ts'
import type { Config } from '../config.ts'
import { databaseOpenError } from '../plugins/adapters.ts'
import type { UserStore } from '../ports/user-store.ts'

/** What `jobcast token` and `jobcast webhook-secret` work on: the stores the server itself uses. */
export interface CliStores {
  users: UserStore
  /** The user's webhook signing secret, created if it has none. */
  webhookSecret: (user: string) => Promise<string>
  /** Where they are, for messages: the data folder, or the database's host and name (never its password). */
  where: string
  close: () => Promise<void>
}

/** The settings that choose the stores: the data folder, and the PostgreSQL URL when there is one (empty or absent: SQLite). */
export type StoreSettings = Pick<Config, 'dataDir'> & { databaseUrl?: string | undefined }

/**
 * The stores `config` selects, as the server does: the PostgreSQL database when `databaseUrl` is set (its schema
 * brought up to date first, as at a node's start), else the SQLite file of the data folder (WAL: safe while the
 * server runs). Either way the server sees a change from its next request on: it caches no token.
 */
export async function openCliStores (config: StoreSettings): Promise<CliStores> {
  if (config.databaseUrl !== undefined && config.databaseUrl !== '') {
    // Loaded only for a database: the embedded stores need no PostgreSQL driver.
    const [{ PgDatabase }, { PgOutbox }, { PgUserStore }] = await Promise.all([
      import('../adapters/postgres/database.ts'), import('../adapters/postgres/pg-outbox.ts'), import('../adapters/postgres/pg-user-store.ts')
    ])
    const db = await PgDatabase.open(config.databaseUrl, { max: 2 }).catch((err: unknown) => { throw databaseOpenError(config.databaseUrl!, err) })
    const users = new PgUserStore(db)
    const outbox = new PgOutbox(async (text, values) => await db.query(text, values))
    const url = new URL(config.databaseUrl)
    return {
      users,
      webhookSecret: async (user) => await outbox.webhookSecret(user),
      where: `the database ${url.pathname.slice(1) || url.username} on ${url.host}`,
      close: async () => { await users.close(); await db.close() }
    }
  }
  const db = openDatabase(config.dataDir)
  const users = new SqliteUserStore(db)
  const outbox = new SqliteOutbox(db)
  return {
    users,
    webhookSecret: async (user) => outbox.webhookSecret(user),
    where: config.dataDir,
    close: async () => { await users.close(); db.close() }
  }
}
