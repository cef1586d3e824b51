import t from 'tap'
import { PgDatabase } from '../../../src/adapters/postgres/database.ts'
import { PgUserStore } from '../../../src/adapters/postgres/pg-user-store.ts'
import { userStoreContract } from '../../ports/user-store.contract.ts'
import { createTestDatabase } from './test-database.ts'

// Each case at the top level of the file (one line each in CI's count), on a database of its own.
userStoreContract(t, async () => {
  const database = await createTestDatabase()
  const db = await PgDatabase.open(database.url, { max: 2 })
  const users = new PgUserStore(db)
  return {
    users,
    // Every row of the three tables, as text.
    dump: async () => {
      const tables = await Promise.all(['users', 'tokens', 'sessions'].map(async (table) =>
        (await db.pool.query(`SELECT * FROM jobcast.${table}`)).rows))
      return JSON.stringify(tables)
    },
    cleanup: async () => {
      await users.close()
      await db.close()
      await database.drop()
    }
  }
})
