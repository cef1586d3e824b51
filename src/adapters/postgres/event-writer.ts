import type { PgDatabase } from './database.ts'
import { Announcer } from './announcer.ts'
import { GroupCommit } from './group-commit.ts'

/** An event to append, as the events table stores it. */
export interface EventInsert {
  owner: string
  kind: string
  jobId: string
  batchId: string | null
  data: string
  createdAt: number
}

// Events appended per statement, at most.
const MAX_BATCH = 500

// Appends a batch of events in one statement (one commit): jobcast.append_events (migration 10) raises each owner's
// seq row once by the owner's count (rows locked in owner order, so two nodes' batches cannot deadlock) and numbers
// its events after it in batch order; ids are drawn in batch order too, so that within an owner seq order, id order
// and commit order agree (the owner's row stays locked until the commit). The other nodes hear of the batch from
// the announcer, after the commit (announcer.ts says why not in it).
const APPEND = 'SELECT id, seq FROM jobcast.append_events($1::json) ORDER BY id'

/**
 * Appends this node's events to the events table with group commit (group-commit.ts): one statement in flight at a
 * time, and the events published meanwhile go together in the next one. An owner's seq row is locked from its
 * upsert to the commit; one statement per event made every publish of a busy owner wait for the one before.
 */
export class EventWriter {
  readonly #db: PgDatabase
  readonly #announcer: Announcer
  readonly #group: GroupCommit<EventInsert, { id: number, seq: number }>

  constructor (db: PgDatabase, announcer: Announcer) {
    this.#db = db
    this.#announcer = announcer
    this.#group = new GroupCommit(async (events) => await this.#write(events), { max: MAX_BATCH })
  }

  /** Appends `event`; resolves with its id and seq once committed (the other nodes are told soon after). */
  async append (event: EventInsert): Promise<{ id: number, seq: number }> {
    return await this.#group.add(event)
  }

  async #write (events: EventInsert[]): Promise<Array<{ id: number, seq: number }>> {
    const input = events.map((event, ord) => ({ ord, owner: event.owner, kind: event.kind, job_id: event.jobId, batch_id: event.batchId, data: event.data, created_at: event.createdAt }))
    const { rows } = await this.#db.query<{ id: number, seq: number }>(APPEND, [JSON.stringify(input)])
    this.#announcer.announce()
    return rows.sort((a, b) => a.id - b.id)
  }
}
