import type pg from 'pg'
import { emptyCounts, type BatchCounts, type BatchInsertOutcome, type BatchQuery, type BatchRecord } from '../../core/batch-model.ts'
import type { JobPatch, JobRecord, JobState } from '../../core/model.ts'
import { jobRowJson, patchAssignments, toRecord, type JobRow } from './job-rows.ts'
import { OWNER_LOCK_NAMESPACE } from './migrations.ts'
import { enqueueDeliveries, enqueueForJob, forgetSubjects, type Query, type Queryable } from './pg-outbox.ts'

/** Children inserted per statement. */
const INSERT_CHUNK = 200

/** The BatchStore methods on PostgreSQL, and the terminal transition that ends batches (the job store delegates). */
export class PgBatches {
  readonly #query: Query
  readonly #transaction: <T>(fn: (client: pg.PoolClient) => Promise<T>) => Promise<T>

  constructor (query: Query, transaction: <T>(fn: (client: pg.PoolClient) => Promise<T>) => Promise<T>) {
    this.#query = query
    this.#transaction = transaction
  }

  async insert (batch: BatchRecord, children: JobRecord[]): Promise<BatchInsertOutcome> {
    return await this.#transaction(async (client) => {
      // The owner's admission lock, as a single start takes it: the idempotency check and the insert see each other.
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [OWNER_LOCK_NAMESPACE, batch.owner])
      if (batch.idempotencyKey !== null) {
        const { rows } = await client.query('SELECT * FROM jobcast.batches WHERE owner = $1 AND idempotency_key = $2', [batch.owner, batch.idempotencyKey])
        if (rows[0] !== undefined) return { status: 'existing', batch: toBatch(rows[0]) }
      }
      await client.query(`INSERT INTO jobcast.batches (id, type, owner, input, total, created_at, finished_at, idempotency_key, request_hash, notify)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [batch.id, batch.type, batch.owner, JSON.stringify(batch.input ?? null), batch.total, batch.createdAt,
        batch.finishedAt, batch.idempotencyKey, batch.requestHash, batch.notify === null ? null : JSON.stringify(batch.notify)])
      for (let at = 0; at < children.length; at += INSERT_CHUNK) {
        // One statement per chunk: the children as a JSON array of rows, each populated into the jobs row type.
        const rows = `[${children.slice(at, at + INSERT_CHUNK).map(jobRowJson).join(',')}]`
        await client.query('INSERT INTO jobcast.jobs SELECT * FROM json_populate_recordset(NULL::jobcast.jobs, $1::json)', [rows])
      }
      await finishIfDone(client, batch.id, batch.createdAt)
      const { rows } = await client.query('SELECT * FROM jobcast.batches WHERE id = $1', [batch.id])
      return { status: 'created', batch: toBatch(rows[0]!) }
    })
  }

  /**
   * A compare-and-set write that makes a job terminal, with its outbox rows and its batch's end in one transaction.
   * The batch row is locked first: two last children finishing at once are serialized, so one of them sees the other.
   */
  async finishTransition (job: JobRecord, patch: JobPatch): Promise<JobRecord | undefined> {
    return await this.#transaction(async (client) => {
      if (job.batchId !== null) await client.query('SELECT 1 FROM jobcast.batches WHERE id = $1 FOR UPDATE', [job.batchId])
      const { sets, values } = patchAssignments(patch, 3)
      const { rows } = await client.query<JobRow>(
        `UPDATE jobcast.jobs SET ${[...sets, 'version = version + 1'].join(', ')} WHERE id = $1 AND version = $2 RETURNING *`, [job.id, job.version, ...values])
      if (rows[0] === undefined) return undefined
      const next = toRecord(rows[0])
      const at = next.finishedAt ?? Date.now()
      await enqueueForJob(client, next.id, at)
      if (next.batchId !== null) await finishIfDone(client, next.batchId, at)
      return next
    })
  }

  async get (id: string): Promise<BatchRecord | undefined> {
    const { rows } = await this.#query('SELECT * FROM jobcast.batches WHERE id = $1', [id])
    return rows[0] === undefined ? undefined : toBatch(rows[0])
  }

  async list (owner: string, query: BatchQuery): Promise<BatchRecord[]> {
    const { rows } = query.before === undefined
      ? await this.#query('SELECT * FROM jobcast.batches WHERE owner = $1 ORDER BY id DESC LIMIT $2', [owner, query.limit])
      : await this.#query('SELECT * FROM jobcast.batches WHERE owner = $1 AND id < $2 ORDER BY id DESC LIMIT $3', [owner, query.before, query.limit])
    return rows.map(toBatch)
  }

  async finishedBefore (time: number, limit: number): Promise<BatchRecord[]> {
    const { rows } = await this.#query('SELECT * FROM jobcast.batches WHERE finished_at < $1 ORDER BY finished_at, id LIMIT $2', [time, limit])
    return rows.map(toBatch)
  }

  /** The batches with their deliveries, in one transaction. */
  async delete (ids: string[]): Promise<void> {
    if (ids.length === 0) return
    await this.#transaction(async (client) => {
      await forgetSubjects(client, ids)
      await client.query('DELETE FROM jobcast.batches WHERE id = ANY($1)', [ids])
    })
  }

  /** Jobs with their targets and deliveries (artifact rows go with the job: ON DELETE CASCADE), in one transaction. */
  async deleteJobs (ids: string[]): Promise<void> {
    if (ids.length === 0) return
    await this.#transaction(async (client) => {
      await forgetSubjects(client, ids)
      await client.query('DELETE FROM jobcast.jobs WHERE id = ANY($1)', [ids])
    })
  }

  async counts (batchId: string): Promise<BatchCounts> {
    const counts = emptyCounts()
    const { rows } = await this.#query<{ state: JobState, n: number }>('SELECT state, count(*) AS n FROM jobcast.jobs WHERE batch_id = $1 GROUP BY state', [batchId])
    for (const row of rows) counts[row.state] = row.n
    return counts
  }
}

// Ends the batch if no child is left unfinished, and writes its deliveries; inside the caller's transaction.
async function finishIfDone (client: Queryable, batchId: string, at: number): Promise<void> {
  const { rows } = await client.query(`UPDATE jobcast.batches SET finished_at = $2 WHERE id = $1 AND finished_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM jobcast.jobs WHERE batch_id = $1 AND state IN ('queued', 'running')) RETURNING *`, [batchId, at])
  if (rows[0] === undefined) return
  const batch = toBatch(rows[0])
  if (batch.notify !== null) await enqueueDeliveries(client, 'batch', batch.id, batch.owner, batch.notify, at)
}

function toBatch (row: pg.QueryResultRow): BatchRecord {
  return {
    id: row.id,
    type: row.type,
    owner: row.owner,
    input: row.input ?? null,
    total: row.total,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    notify: row.notify ?? null
  }
}
