import t from 'tap'
import { PgDatabase } from '../../../src/adapters/postgres/database.ts'
import { PgJobEvents } from '../../../src/adapters/postgres/pg-job-events.ts'
import { PgJobStore } from '../../../src/adapters/postgres/pg-job-store.ts'
import { jobStoreContract } from '../../ports/job-store.contract.ts'
import { createTestDatabase } from './test-database.ts'

// Each case at the top level of the file (one line each in CI's count), on a database of its own.
jobStoreContract(t, async () => {
  const database = await createTestDatabase()
  const opened: PgDatabase[] = []
  const stores: Array<PgJobStore | PgJobEvents> = []
  // Each store on a database (pool) of its own, as on another node, with that node's events (as openPostgres does).
  const openNode = async (): Promise<{ store: PgJobStore, events: PgJobEvents }> => {
    const db = await PgDatabase.open(database.url, { max: 5 })
    opened.push(db)
    const events = await PgJobEvents.open(db, { retention: { intervalMs: 0 } })
    const store = new PgJobStore(db, { events })
    stores.push(store, events)
    return { store, events }
  }
  const first = await openNode()
  return {
    ...first,
    peer: async () => (await openNode()).store,
    cleanup: async () => {
      await Promise.all(stores.map(async (s) => { await s.close() }))
      await Promise.all(opened.map(async (db) => { await db.close() }))
      await database.drop()
    }
  }
})
