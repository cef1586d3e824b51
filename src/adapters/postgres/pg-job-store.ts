import type pg from 'pg'
import type { BatchCounts, BatchInsertOutcome, BatchQuery, BatchRecord, DeliveryRecord, DeliveryState, NotifyTargets, StoredAttempt } from '../../core/batch-model.ts'
import { TERMINAL_STATES, type ArtifactRecord, type JobPatch, type JobQuery, type JobRecord, type JobState } from '../../core/model.ts'
import { JobcastError } from '../../errors.ts'
import type { ClaimBounds, HeartbeatAnswer, InsertOutcome, JobStore } from '../../ports/job-store.ts'
import type { PgDatabase } from './database.ts'
import { type Candidate, type ClaimState, pickFair } from './fair-pick.ts'
import { jobRowJson, type JobRow, patchAssignments, toArtifact, toRecord } from './job-rows.ts'
import { LOCK_NAMESPACE, LockKey, OWNER_LOCK_NAMESPACE } from './migrations.ts'
import { PgBatches } from './pg-batches.ts'
import { PgOutbox } from './pg-outbox.ts'

// Every (owner, type) that has queued jobs, by a skip scan of jobs_queued (one index probe per group, however
// many jobs wait), then the first runnable jobs of each group in FIFO order.
const CANDIDATES = `
  WITH RECURSIVE groups AS (
    (SELECT owner, type FROM jobcast.jobs WHERE state = 'queued' ORDER BY owner, type LIMIT 1)
    UNION ALL
    SELECT next.owner, next.type FROM groups, LATERAL (
      SELECT owner, type FROM jobcast.jobs
      WHERE state = 'queued' AND (owner, type) > (groups.owner, groups.type)
      ORDER BY owner, type LIMIT 1
    ) next
  )
  SELECT heads.id, heads.owner, heads.type, heads.run_at FROM groups, LATERAL (
    SELECT id, owner, type, run_at FROM jobcast.jobs
    WHERE state = 'queued' AND owner = groups.owner AND type = groups.type AND run_at <= $1
    ORDER BY run_at, id LIMIT $2
  ) heads`

/**
 * {@link JobStore} on PostgreSQL, shared by every node. Admission and idempotency are serialized per owner by
 * an advisory transaction lock; claims are serialized cluster-wide by another, so that the per-user and per-type
 * bounds hold across nodes, and take their rows with `FOR UPDATE SKIP LOCKED` so that a row another transaction
 * is changing (a cancel) is passed over rather than waited for. Every write is committed before it resolves.
 */
export class PgJobStore implements JobStore {
  readonly #db: PgDatabase
  #closed = false
  #lastError: string | undefined
  readonly #batches: PgBatches
  readonly #outbox: PgOutbox

  constructor (db: PgDatabase) {
    this.#db = db
    db.retain()
    const query = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> => await this.#query<R>(text, values)
    this.#batches = new PgBatches(query, async (fn) => await this.#transaction(fn))
    this.#outbox = new PgOutbox(query)
  }

  async insertOrGet (job: JobRecord, limits: { maxQueued: number }): Promise<InsertOutcome> {
    // One round trip (jobcast.insert_or_get, migration 3): the owner's lock, the idempotency look-up, the count
    // and the insert, serialized per owner on every node.
    const { rows } = await this.#query<{ status: InsertOutcome['status'], row_json: JobRow | null }>(
      'SELECT * FROM jobcast.insert_or_get(json_populate_record(NULL::jobcast.jobs, $1::json), $2, $3)',
      [jobRowJson(job), limits.maxQueued, OWNER_LOCK_NAMESPACE])
    const { status, row_json: existing } = rows[0]!
    if (status === 'existing') return { status, job: toRecord(existing!) }
    if (status === 'queue-full') return { status }
    return { status: 'created', job }
  }

  async get (id: string): Promise<JobRecord | undefined> {
    const { rows } = await this.#query<JobRow>('SELECT * FROM jobcast.jobs WHERE id = $1', [id])
    return rows[0] === undefined ? undefined : toRecord(rows[0])
  }

  async list (owner: string, query: JobQuery): Promise<JobRecord[]> {
    const where = ['owner = $1']
    const params: unknown[] = [owner]
    const add = (condition: string, value: unknown): void => { params.push(value); where.push(`${condition} $${params.length}`) }
    if (query.state !== undefined) add('state =', query.state)
    if (query.type !== undefined) add('type =', query.type)
    if (query.batchId !== undefined) add('batch_id =', query.batchId)
    if (query.before !== undefined) add('id <', query.before)
    params.push(query.limit)
    const { rows } = await this.#query<JobRow>(`SELECT * FROM jobcast.jobs WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.length}`, params)
    return rows.map(toRecord)
  }

  async recent (owner: string, finishedSince: number, limit: number): Promise<JobRecord[]> {
    const { rows } = await this.#query<JobRow>(
      'SELECT * FROM jobcast.jobs WHERE owner = $1 AND (finished_at IS NULL OR finished_at >= $2) ORDER BY id DESC LIMIT $3', [owner, finishedSince, limit])
    return rows.map(toRecord)
  }

  async countQueued (owner: string): Promise<number> {
    const { rows } = await this.#query<{ n: number }>("SELECT count(*) AS n FROM jobcast.jobs WHERE owner = $1 AND state = 'queued'", [owner])
    return rows[0]!.n
  }

  async countByState (): Promise<Array<{ type: string, state: JobState, count: number }>> {
    const { rows } = await this.#query<{ type: string, state: JobState, count: string }>('SELECT type, state, count(*) AS count FROM jobcast.jobs GROUP BY type, state ORDER BY type, state', [])
    return rows.map((r) => ({ type: r.type, state: r.state, count: Number(r.count) }))
  }

  async update (job: JobRecord, patch: JobPatch): Promise<JobRecord | undefined> {
    // A terminal write carries its outbox rows and its batch's end: one transaction (pg-batches.ts).
    if (patch.state !== undefined && TERMINAL_STATES.has(patch.state)) return await this.#batches.finishTransition(job, patch)
    const { sets, values } = patchAssignments(patch, 3)
    const { rows } = await this.#query<JobRow>(
      `UPDATE jobcast.jobs SET ${[...sets, 'version = version + 1'].join(', ')} WHERE id = $1 AND version = $2 RETURNING *`,
      [job.id, job.version, ...values])
    return rows[0] === undefined ? undefined : toRecord(rows[0])
  }

  async claim (node: string, max: number, bounds: ClaimBounds, leaseMs: number): Promise<JobRecord[]> {
    if (max <= 0) return []
    return await this.#transaction(async (client) => {
      // One claimer at a time in the cluster: the running counts read below stay true until this commits.
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LockKey.claim])
      const now = Date.now()
      const state = await this.#claimState(client)
      const { rows } = await client.query<JobRow>(CANDIDATES, [now, Math.min(max, bounds.userConcurrency)])
      const candidates: Candidate[] = rows.map((row) => ({ id: row.id as string, owner: row.owner as string, type: row.type as string, runAt: row.run_at as number }))
      await this.#readTurns(client, state, [...new Set(candidates.map((c) => c.owner))])
      const picked = pickFair(candidates, state, bounds, max)
      if (picked.length === 0) return []
      const { rows: claimed } = await client.query<JobRow>(`
        UPDATE jobcast.jobs SET state = 'running', lease_node = $2, lease_expires_at = $3, started_at = $4, cancel_requested_at = NULL, version = version + 1
        WHERE id IN (SELECT id FROM jobcast.jobs WHERE id = ANY($1) AND state = 'queued' FOR UPDATE SKIP LOCKED)
        RETURNING *`, [picked.map((c) => c.id), node, now + leaseMs, now])
      const byId = new Map(claimed.map((row) => [row.id as string, toRecord(row)]))
      const jobs = picked.flatMap((c) => byId.get(c.id) ?? [])
      await this.#writeTurns(client, state, jobs)
      return jobs
    })
  }

  async #claimState (client: pg.PoolClient): Promise<ClaimState> {
    const { rows } = await client.query<{ owner: string, type: string, n: number }>(
      "SELECT owner, type, count(*) AS n FROM jobcast.jobs WHERE state = 'running' GROUP BY owner, type")
    const state: ClaimState = { runningByOwner: new Map(), runningByType: new Map(), served: new Map() }
    for (const { owner, type, n } of rows) {
      state.runningByOwner.set(owner, (state.runningByOwner.get(owner) ?? 0) + n)
      state.runningByType.set(type, (state.runningByType.get(type) ?? 0) + n)
    }
    return state
  }

  // The turn of each owner's last claim, and (under the owner '') the latest turn handed out.
  async #readTurns (client: pg.PoolClient, state: ClaimState, owners: string[]): Promise<void> {
    const { rows } = await client.query<{ owner: string | null, served: number }>(`
      SELECT owner, served FROM jobcast.owner_turns WHERE owner = ANY($1)
      UNION ALL SELECT NULL, coalesce(max(served), 0) FROM jobcast.owner_turns`, [owners])
    for (const { owner, served } of rows) state.served.set(owner ?? '', served)
  }

  // Each owner served now goes to the back of the ring, in the order of this claim.
  async #writeTurns (client: pg.PoolClient, state: ClaimState, jobs: JobRecord[]): Promise<void> {
    const latest = state.served.get('') ?? 0
    const turns = new Map<string, number>()
    jobs.forEach((job, i) => turns.set(job.owner, latest + i + 1))
    if (turns.size === 0) return
    await client.query(`
      INSERT INTO jobcast.owner_turns (owner, served) SELECT * FROM unnest($1::text[], $2::bigint[])
      ON CONFLICT (owner) DO UPDATE SET served = excluded.served`, [[...turns.keys()], [...turns.values()]])
  }

  async heartbeat (node: string, ids: string[], leaseMs: number): Promise<HeartbeatAnswer> {
    if (ids.length === 0) return { lost: [], canceled: [] }
    const now = Date.now()
    // A lease that has run out is lost even before another node re-queues the job: the holder must stop, since
    // any node may take the job from then on.
    const { rows } = await this.#query<{ id: string, canceled: boolean }>(`
      UPDATE jobcast.jobs SET lease_expires_at = $3
      WHERE id = ANY($1) AND state = 'running' AND lease_node = $2 AND lease_expires_at > $4
      RETURNING id, cancel_requested_at IS NOT NULL AS canceled`, [ids, node, now + leaseMs, now])
    const kept = new Set(rows.map((row) => row.id))
    return { lost: ids.filter((id) => !kept.has(id)), canceled: rows.filter((row) => row.canceled).map((row) => row.id) }
  }

  async requestCancel (id: string): Promise<boolean> {
    // Not a change of the job's version: the running node's copy stays current, its outcome is still written.
    const { rowCount } = await this.#query("UPDATE jobcast.jobs SET cancel_requested_at = $2 WHERE id = $1 AND state = 'running'", [id, Date.now()])
    return rowCount === 1
  }

  async expiredLeases (now: number, limit: number): Promise<JobRecord[]> {
    const { rows } = await this.#query<JobRow>(`
      SELECT * FROM jobcast.jobs WHERE state = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= $1)
      ORDER BY lease_expires_at NULLS FIRST, id LIMIT $2`, [now, limit])
    return rows.map(toRecord)
  }

  async nextRunAt (): Promise<number | undefined> {
    const { rows } = await this.#query<{ at: number | null }>("SELECT min(run_at) AS at FROM jobcast.jobs WHERE state = 'queued' AND run_at > $1", [Date.now()])
    return rows[0]?.at ?? undefined
  }

  async finishedBefore (time: number, limit: number): Promise<JobRecord[]> {
    const { rows } = await this.#query<JobRow>('SELECT * FROM jobcast.jobs WHERE finished_at < $1 AND batch_id IS NULL ORDER BY finished_at, id LIMIT $2', [time, limit])
    return rows.map(toRecord)
  }

  async delete (ids: string[]): Promise<void> {
    await this.#batches.deleteJobs(ids)
  }

  async addArtifact (artifact: ArtifactRecord): Promise<void> {
    await this.#query(`
      INSERT INTO jobcast.artifacts (job_id, name, size, content_type, created_at) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (job_id, name) DO UPDATE SET size = excluded.size, content_type = excluded.content_type, created_at = excluded.created_at`,
    [artifact.jobId, artifact.name, artifact.size, artifact.contentType, artifact.createdAt])
  }

  async artifacts (jobId: string): Promise<ArtifactRecord[]> {
    const { rows } = await this.#query<JobRow>('SELECT * FROM jobcast.artifacts WHERE job_id = $1 ORDER BY name', [jobId])
    return rows.map(toArtifact)
  }

  async insertBatch (batch: BatchRecord, children: JobRecord[]): Promise<BatchInsertOutcome> { return await this.#batches.insert(batch, children) }
  async getBatch (id: string): Promise<BatchRecord | undefined> { return await this.#batches.get(id) }
  async listBatches (owner: string, query: BatchQuery): Promise<BatchRecord[]> { return await this.#batches.list(owner, query) }
  async batchCounts (batchId: string): Promise<BatchCounts> { return await this.#batches.counts(batchId) }
  async batchesFinishedBefore (time: number, limit: number): Promise<BatchRecord[]> { return await this.#batches.finishedBefore(time, limit) }
  async deleteBatches (ids: string[]): Promise<void> { await this.#batches.delete(ids) }
  async setNotify (subjectId: string, owner: string, targets: NotifyTargets): Promise<void> { await this.#outbox.setNotify(subjectId, owner, targets) }
  async deliveries (subjectId: string): Promise<DeliveryRecord[]> { return await this.#outbox.deliveries(subjectId) }
  async takeDueDeliveries (now: number, limit: number, leaseMs: number): Promise<DeliveryRecord[]> { return await this.#outbox.takeDue(now, limit, leaseMs) }
  async nextDeliveryAt (): Promise<number | undefined> { return await this.#outbox.nextAt() }
  async recordDelivery (id: string, attempt: StoredAttempt, next: { state: DeliveryState, nextAt: number | null }): Promise<void> { await this.#outbox.record(id, attempt, next) }
  async webhookSecret (owner: string): Promise<string> { return await this.#outbox.webhookSecret(owner) }
  async rotateWebhookSecret (owner: string): Promise<string> { return await this.#outbox.rotateWebhookSecret(owner) }
  async notifyDefaults (owner: string): Promise<NotifyTargets | null> { return await this.#outbox.notifyDefaults(owner) }
  async setNotifyDefaults (owner: string, targets: NotifyTargets | null): Promise<void> { await this.#outbox.setNotifyDefaults(owner, targets) }
  async deleteUnusedTargets (time: number): Promise<number> { return await this.#outbox.deleteUnusedTargets(time) }

  async health (): Promise<{ ok: boolean, error?: string }> {
    if (this.#closed) return { ok: false, error: 'closed' }
    try {
      await this.#query('SELECT 1')
      return { ok: true }
    } catch (err) {
      return { ok: false, error: (err as Error).message }
    }
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#db.release()
  }

  /** The message of the last failed query, if any (kept for logs and `/healthz`). */
  get lastError (): string | undefined {
    return this.#lastError
  }

  async #query<R extends pg.QueryResultRow> (text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    this.#assertOpen()
    try {
      return await this.#db.query<R>(text, values)
    } catch (err) {
      this.#lastError = (err as Error).message
      throw err
    }
  }

  async #transaction<T> (fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    this.#assertOpen()
    try {
      return await this.#db.transaction(fn)
    } catch (err) {
      this.#lastError = (err as Error).message
      throw err
    }
  }

  #assertOpen (): void {
    if (this.#closed) throw new JobcastError('STORE_CLOSED', 'the job store is closed', 503)
  }
}
