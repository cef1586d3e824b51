import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { openDatabase } from '../../../src/adapters/sqlite/database.ts'
import { SqliteUserStore } from '../../../src/adapters/sqlite/sqlite-user-store.ts'
import { userStoreContract } from '../../ports/user-store.contract.ts'

userStoreContract(t, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobcast-contract-'))
  const db = openDatabase(dir)
  const users = new SqliteUserStore(db)
  return {
    users,
    dump: async () => JSON.stringify(['users', 'tokens', 'sessions'].map((table) => db.prepare(`SELECT * FROM ${table}`).all())),
    cleanup: async () => {
      await users.close()
      db.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
})
