import t from 'tap'
import { PgDatabase } from '../../../src/adapters/postgres/database.ts'
import { PgJobEvents } from '../../../src/adapters/postgres/pg-job-events.ts'
import { jobEventsContract } from '../../ports/job-events.contract.ts'
import { createTestDatabase } from './test-database.ts'

// Each case at the top level of the file (one line each in CI's count), on a database of its own.
jobEventsContract(t, async () => {
  const database = await createTestDatabase()
  const opened: Array<{ db: PgDatabase, events: PgJobEvents }> = []
  // Each node with a pool and a LISTEN connection of its own; pruning by count only, on demand.
  const openNode = async (maxPerOwner = 1000): Promise<PgJobEvents> => {
    const db = await PgDatabase.open(database.url, { max: 4 })
    const events = await PgJobEvents.open(db, { retention: { maxPerOwner, intervalMs: 0 } })
    opened.push({ db, events })
    return events
  }
  const events = await openNode()
  return {
    events,
    peer: openNode,
    prune: async (keepPerOwner) => { await (await openNode(keepPerOwner)).prune() },
    cleanup: async () => {
      await Promise.all(opened.map(async ({ db, events }) => { await events.close(); await db.close() }))
      await database.drop()
    }
  }
})
