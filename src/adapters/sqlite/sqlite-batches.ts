import type { Statement } from 'better-sqlite3'
import { emptyCounts, type BatchCounts, type BatchQuery, type BatchRecord } from '../../core/batch-model.ts'
import type { JobState } from '../../core/model.ts'
import type { Db } from './database.ts'
import type { Row } from './job-row.ts'
import type { SqliteOutbox } from './sqlite-outbox.ts'

/** The batches table on SQLite. The statements run inside the job store's commits or as plain reads. */
export class SqliteBatches {
  readonly #outbox: SqliteOutbox
  readonly #s: Record<'insert' | 'byId' | 'byKey' | 'counts' | 'finish' | 'finishedBefore' | 'delete', Statement>
  readonly #db: Db

  constructor (db: Db, outbox: SqliteOutbox) {
    this.#db = db
    this.#outbox = outbox
    this.#s = {
      insert: db.prepare('INSERT INTO batches (id, type, owner, input, total, created_at, finished_at, idempotency_key, request_hash, notify) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      byId: db.prepare('SELECT * FROM batches WHERE id = ?'),
      byKey: db.prepare('SELECT * FROM batches WHERE owner = ? AND idempotency_key = ?'),
      counts: db.prepare('SELECT state, count(*) AS n FROM jobs WHERE batch_id = ? GROUP BY state'),
      // Ends the batch when no child is left unfinished: run after the child's write, in the same commit.
      finish: db.prepare("UPDATE batches SET finished_at = ? WHERE id = ? AND finished_at IS NULL AND NOT EXISTS (SELECT 1 FROM jobs WHERE batch_id = ? AND state IN ('queued', 'running'))"),
      finishedBefore: db.prepare('SELECT * FROM batches WHERE finished_at IS NOT NULL AND finished_at < ? ORDER BY finished_at, id LIMIT ?'),
      delete: db.prepare('DELETE FROM batches WHERE id = ?')
    }
  }

  /** Inside a commit: writes the batch row. */
  insert (batch: BatchRecord): void {
    this.#s.insert.run(batch.id, batch.type, batch.owner, JSON.stringify(batch.input ?? null), batch.total, batch.createdAt, batch.finishedAt,
      batch.idempotencyKey, batch.requestHash, batch.notify === null ? null : JSON.stringify(batch.notify))
  }

  /** Inside a commit, after a child became terminal: ends the batch if that was its last unfinished child. */
  finishIfDone (batchId: string, at: number): void {
    if (this.#s.finish.run(at, batchId, batchId).changes === 0) return
    const batch = this.get(batchId)
    if (batch?.notify != null) this.#outbox.enqueue('batch', batch.id, batch.owner, batch.notify, at)
  }

  get (id: string): BatchRecord | undefined {
    const row = this.#s.byId.get(id) as Row | undefined
    return row === undefined ? undefined : toBatch(row)
  }

  byKey (owner: string, key: string): BatchRecord | undefined {
    const row = this.#s.byKey.get(owner, key) as Row | undefined
    return row === undefined ? undefined : toBatch(row)
  }

  list (owner: string, query: BatchQuery): BatchRecord[] {
    const rows = query.before === undefined
      ? this.#db.prepare('SELECT * FROM batches WHERE owner = ? ORDER BY id DESC LIMIT ?').all(owner, query.limit)
      : this.#db.prepare('SELECT * FROM batches WHERE owner = ? AND id < ? ORDER BY id DESC LIMIT ?').all(owner, query.before, query.limit)
    return (rows as Row[]).map(toBatch)
  }

  finishedBefore (time: number, limit: number): BatchRecord[] {
    return (this.#s.finishedBefore.all(time, limit) as Row[]).map(toBatch)
  }

  /** The batches with their deliveries, in one commit. */
  delete (ids: string[]): void {
    this.#db.transaction(() => {
      for (const id of ids) {
        this.#s.delete.run(id)
        this.#outbox.forget(id)
      }
    })()
  }

  counts (batchId: string): BatchCounts {
    const counts = emptyCounts()
    for (const row of this.#s.counts.all(batchId) as Array<{ state: JobState, n: number }>) counts[row.state] = row.n
    return counts
  }
}

function toBatch (row: Row): BatchRecord {
  return {
    id: row.id as string,
    type: row.type as string,
    owner: row.owner as string,
    input: JSON.parse(row.input as string) as unknown,
    total: row.total as number,
    createdAt: row.created_at as number,
    finishedAt: row.finished_at as number | null,
    idempotencyKey: row.idempotency_key as string | null,
    requestHash: row.request_hash as string | null,
    notify: row.notify === null ? null : JSON.parse(row.notify as string) as BatchRecord['notify']
  }
}
