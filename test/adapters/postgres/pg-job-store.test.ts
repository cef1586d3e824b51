import t from 'tap'
import { PgDatabase } from '../../../src/adapters/postgres/database.ts'
import { PgJobStore } from '../../../src/adapters/postgres/pg-job-store.ts'
import { jobStoreContract } from '../../ports/job-store.contract.ts'
import { createTestDatabase } from './test-database.ts'

// Each case at the top level of the file (one line each in CI's count), on a database of its own.
jobStoreContract(t, async () => {
  const database = await createTestDatabase()
  const opened: PgDatabase[] = []
  const stores: PgJobStore[] = []
  // Each store on a database (pool) of its own, as on another node.
  const openStore = async (): Promise<PgJobStore> => {
    const db = await PgDatabase.open(database.url, { max: 5 })
    opened.push(db)
    const store = new PgJobStore(db)
    stores.push(store)
    return store
  }
  return {
    store: await openStore(),
    peer: openStore,
    cleanup: async () => {
      await Promise.all(stores.map(async (s) => { await s.close() }))
      await Promise.all(opened.map(async (db) => { await db.close() }))
      await database.drop()
    }
  }
})
