import type { PgDatabase } from './database.ts'

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
// owner's row stays locked until the commit). The rows come back in id order, which is batch order.
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
  )
  INSERT INTO jobcast.events (id, owner, seq, kind, job_id, batch_id, data, created_at)
  SELECT nextval('jobcast.events_id_seq'), s.owner, s.seq, s.kind, s.job_id, s.batch_id, s.data, s.created_at
  FROM (SELECT * FROM numbered ORDER BY ord) s
  RETURNING id, seq`

interface Pending {
  event: EventInsert
  resolve: (row: { id: number, seq: number }) => void
  reject: (err: unknown) => void
}

/**
 * Appends this node's events to the events table with group commit: one statement in flight at a time, and the
 * events published meanwhile go together in the next one. An owner's seq row is locked from its upsert to the
 * commit; one statement per event made every publish of a busy owner wait for the one before (~850 a second here).
 */
export class EventWriter {
  readonly #db: PgDatabase
  #pending: Pending[] = []
  #writing = false

  constructor (db: PgDatabase) {
    this.#db = db
  }

  /** Appends `event`; resolves with its id and seq once committed. */
  async append (event: EventInsert): Promise<{ id: number, seq: number }> {
    return await new Promise((resolve, reject) => {
      this.#pending.push({ event, resolve, reject })
      this.#next()
    })
  }

  #next (): void {
    if (this.#writing || this.#pending.length === 0) return
    this.#writing = true
    const batch = this.#pending.splice(0, MAX_BATCH)
    void this.#write(batch).finally(() => {
      this.#writing = false
      this.#next()
    })
  }

  async #write (batch: Pending[]): Promise<void> {
    const input = batch.map(({ event }, ord) => ({ ord, owner: event.owner, kind: event.kind, job_id: event.jobId, batch_id: event.batchId, data: event.data, created_at: event.createdAt }))
    try {
      const { rows } = await this.#db.query<{ id: number, seq: number }>(APPEND, [JSON.stringify(input)])
      rows.sort((a, b) => a.id - b.id)
      batch.forEach((pending, i) => { pending.resolve(rows[i]!) })
    } catch (err) {
      for (const pending of batch) pending.reject(err)
    }
  }
}
