import type { PgDatabase } from './database.ts'
import { CHANNEL } from './channel.ts'
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

// Appends a batch of events in one statement (one commit). Each owner's seq row is raised once by the owner's count
// (rows locked in owner order, so two nodes' batches cannot deadlock) and its events numbered after it in batch
// order; ids are drawn in batch order too, so that within an owner seq order, id order and commit order agree (the
// owner's row stays locked until the commit). The rows come back in id order, which is batch order. One
// notification for the whole batch (identical ones are sent once a transaction), sent by the commit: a notifying
// commit holds a database-wide lock until it ends, so a notification per event (three a job) serialized every
// publish of the cluster (~400 a second on a loaded 2-core machine).
const APPEND = `
  WITH input AS (
    SELECT * FROM json_to_recordset($1::json) AS x(ord integer, owner text, kind text, job_id text, batch_id text, data text, created_at bigint)
  ), counts AS (
    SELECT owner, count(*) AS n FROM input GROUP BY owner
  ), turn AS (
    INSERT INTO jobcast.event_owners AS o (owner, seq) SELECT owner, n FROM counts ORDER BY owner
    ON CONFLICT (owner) DO UPDATE SET seq = o.seq + excluded.seq RETURNING o.owner, o.seq
  ), numbered AS (
    SELECT i.ord, i.owner, t.seq - c.n + row_number() OVER (PARTITION BY i.owner ORDER BY i.ord) AS seq, i.kind, i.job_id, i.batch_id, i.data, i.created_at
    FROM input i JOIN counts c ON c.owner = i.owner JOIN turn t ON t.owner = i.owner
  ), appended AS (
    INSERT INTO jobcast.events (id, owner, seq, kind, job_id, batch_id, data, created_at)
    SELECT nextval('jobcast.events_id_seq'), s.owner, s.seq, s.kind, s.job_id, s.batch_id, s.data, s.created_at
    FROM (SELECT * FROM numbered ORDER BY ord) s
    RETURNING id, seq
  )
  SELECT id, seq, pg_notify('${CHANNEL}', $2) AS notified FROM appended`

/**
 * Appends this node's events to the events table with group commit (group-commit.ts): one statement in flight at a
 * time, and the events published meanwhile go together in the next one. An owner's seq row is locked from its
 * upsert to the commit; one statement per event made every publish of a busy owner wait for the one before.
 */
export class EventWriter {
  readonly #db: PgDatabase
  readonly #announcement: string
  readonly #group: GroupCommit<EventInsert, { id: number, seq: number }>

  constructor (db: PgDatabase, announcement: string) {
    this.#db = db
    this.#announcement = announcement
    this.#group = new GroupCommit(async (events) => await this.#write(events), { max: MAX_BATCH })
  }

  /** Appends `event`; resolves with its id and seq once committed (and `announcement` sent on CHANNEL). */
  async append (event: EventInsert): Promise<{ id: number, seq: number }> {
    return await this.#group.add(event)
  }

  async #write (events: EventInsert[]): Promise<Array<{ id: number, seq: number }>> {
    const input = events.map((event, ord) => ({ ord, owner: event.owner, kind: event.kind, job_id: event.jobId, batch_id: event.batchId, data: event.data, created_at: event.createdAt }))
    const { rows } = await this.#db.query<{ id: number, seq: number }>(APPEND, [JSON.stringify(input), this.#announcement])
    return rows.sort((a, b) => a.id - b.id)
  }
}
