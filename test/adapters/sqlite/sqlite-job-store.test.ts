import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { openDatabase } from '../../../src/adapters/sqlite/database.ts'
import { SqliteJobStore } from '../../../src/adapters/sqlite/sqlite-job-store.ts'
import { jobStoreContract } from '../../ports/job-store.contract.ts'

// The embedded store has one writer per data folder: there is no second node, so concurrent cases share it.
jobStoreContract(t, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobcast-contract-'))
  const db = openDatabase(dir)
  const store = new SqliteJobStore(db)
  return {
    store,
    cleanup: async () => {
      await store.close()
      db.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
})
