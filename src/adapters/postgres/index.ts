import { PgDatabase, type PgDatabaseOptions } from './database.ts'
import { PgJobEvents, type PgJobEventsOptions } from './pg-job-events.ts'
import { PgJobStore } from './pg-job-store.ts'
import { PgServiceLimiter } from './pg-service-limiter.ts'
import { PgUserStore } from './pg-user-store.ts'

export { PgDatabase, type PgDatabaseOptions, type PgLog } from './database.ts'
export { PgJobEvents, type PgJobEventsOptions } from './pg-job-events.ts'
export { PgJobStore } from './pg-job-store.ts'
export { PgServiceLimiter, type PgServiceLimiterOptions } from './pg-service-limiter.ts'
export { PgUserStore } from './pg-user-store.ts'

/** The PostgreSQL adapters of one node, on one pool. */
export interface PostgresAdapters {
  database: PgDatabase
  jobs: PgJobStore
  events: PgJobEvents
  users: PgUserStore
  /** Job types' service limits, held in the database: the same bounds on every node. */
  limiter: PgServiceLimiter
  /** Closes the adapters and the pool; safe to call twice. */
  close: () => Promise<void>
}

/**
 * Opens the database at `url` (a `postgres://` URL), migrates its schema and starts listening for other nodes'
 * events: what `JOBCAST_DATABASE_URL` selects.
 */
export async function openPostgres (url: string, options: PgDatabaseOptions & { events?: PgJobEventsOptions } = {}): Promise<PostgresAdapters> {
  const database = await PgDatabase.open(url, options)
  let events: PgJobEvents
  try {
    events = await PgJobEvents.open(database, options.events)
  } catch (err) {
    await database.close()
    throw err
  }
  // The store appends the events of its own writes (a start's `queued` event) in their commits, through `events`.
  const jobs = new PgJobStore(database, { events })
  const users = new PgUserStore(database)
  const limiter = new PgServiceLimiter(database, { log: database.log })
  database.retain()
  const closeLimiter = async (): Promise<void> => {
    await limiter.close()
    await database.release()
  }
  let closed: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closed ??= (async () => {
      await Promise.all([events.close(), jobs.close(), users.close(), closeLimiter()])
      await database.close()
    })()
    await closed
  }
  return { database, jobs, events, users, limiter, close }
}
