import type pg from 'pg'
import { deliveryId, type BatchCounts, type BatchInsertOutcome, type BatchQuery, type BatchRecord, type DeliveryRecord, type DeliveryState, type NotifyTargets, type StoredAttempt } from '../../core/batch-model.ts'
import { TERMINAL_STATES, type ArtifactRecord, type JobPatch, type JobQuery, type JobRecord, type JobState } from '../../core/model.ts'
import { JobcastError } from '../../errors.ts'
import type { ClaimBounds, CommitEvent, HeartbeatAnswer, InsertOutcome, JobStore } from '../../ports/job-store.ts'
import { isConnectionError, type PgDatabase } from './database.ts'
import { GroupCommit } from './group-commit.ts'
import { jobRowJson, type JobRow, LIST_COLUMNS, patchAssignments, patchRow, toArtifact, toRecord } from './job-rows.ts'
import { LOCK_NAMESPACE, LockKey, OWNER_LOCK_NAMESPACE } from './migrations.ts'
import { PgBatches } from './pg-batches.ts'
import { PgOutbox } from './pg-outbox.ts'
import type { PgJobEvents } from './pg-job-events.ts'

// Terminal writes of jobs outside any batch, many in one statement: each a compare-and-set update, the deliveries
// of its notify targets (the outbox, committed with it) and the job's artifacts as they are at that write (what its
// terminal event lists, asked for right after). `columns` are the patched ones (patchRow), the same for every row.
// A batch's child goes through PgBatches.finishTransition instead, which locks the batch first and reads its
// siblings in a later snapshot. Rows come back as JSON, so that the statement's result type never changes.
const finishStatement = (columns: string[]): string => {
  const names = columns.map((c) => c.split(' ')[0]!)
  return `
  WITH input AS (
    SELECT * FROM json_to_recordset($1::json) AS x(ord integer, id text, version integer, webhook_id text, email_id text, at bigint, ${columns.join(', ')})
  ), job AS (
    UPDATE jobcast.jobs j SET ${[...names.map((n) => `${n} = input.${n}`), 'version = j.version + 1'].join(', ')}
    FROM input WHERE j.id = input.id AND j.version = input.version
    RETURNING j.*, input.ord, input.webhook_id, input.email_id, input.at
  ), targets AS (
    SELECT t.owner, c.id, c.channel, c.target, job.id AS job_id, coalesce(job.finished_at, job.at) AS at FROM job
    JOIN jobcast.notify_targets t ON t.subject_id = job.id
    CROSS JOIN LATERAL (VALUES (job.webhook_id, 'webhook', t.webhook), (job.email_id, 'email', t.email)) c(id, channel, target)
    WHERE c.target IS NOT NULL
  ), queued AS (
    INSERT INTO jobcast.deliveries (id, owner, subject_kind, subject_id, channel, target, state, next_at, created_at)
    SELECT id, owner, 'job', job_id, channel, target, 'pending', at, at FROM targets ON CONFLICT (id) DO NOTHING
  )
  SELECT job.ord, row_to_json(job) AS job, (SELECT coalesce(json_agg(a ORDER BY a.name), '[]') FROM jobcast.artifacts a WHERE a.job_id = job.id) AS artifacts FROM job`
}
// How long the artifacts read with a terminal write answer artifacts() for that job (its terminal event's read).
const FINISHED_ARTIFACTS_MS = 1000

// A start waiting for admission (its row as JSON, and its `queued` event when the store appends events), and what
// admission answered (with the event's id when one was appended).
interface Admission { job: JobRecord, row: string, maxQueued: number, event: string | undefined }
interface Admitted { status: InsertOutcome['status'], row_json: JobRow | null, event_id?: number | null, error?: unknown }

// A terminal write waiting for its statement, and what it found: the row written (absent: the version had moved
// on), the job's artifacts then, or the error.
interface Finish { job: JobRecord, patch: JobPatch }
interface Finished { row?: JobRow, artifacts?: JobRow[], error?: unknown }

// Whether `err` says the database could not be reached (then retrying write by write would not help).
function isUnavailable (err: unknown): boolean {
  return (err instanceof Error && isConnectionError(err)) || (err as { code?: unknown } | null)?.code === 'STORE_UNAVAILABLE'
}

// An integer parameter of the claim function: bounds beyond PostgreSQL's integer are as good as none.
const INT_MAX = 2 ** 31 - 1
// How long the next-run-at answered with a claim stands in for a nextRunAt() query made just after it.
const NEXT_RUN_AT_FRESH_MS = 100

/**
 * {@link JobStore} on PostgreSQL, shared by every node. Admission and idempotency are serialized per owner by
 * an advisory transaction lock; claims are serialized cluster-wide by another, so that the per-user and per-type
 * bounds hold across nodes, and take their rows with `FOR UPDATE SKIP LOCKED` so that a row another transaction
 * is changing (a cancel) is passed over rather than waited for. Both run in the server, one round trip each
 * (jobcast.insert_or_get_many, jobcast.claim), so a lock is held for microseconds and a commit, not for round trips.
 * Every write is committed before it resolves.
 */
export class PgJobStore implements JobStore {
  readonly #db: PgDatabase
  readonly #events: PgJobEvents | undefined
  #closed = false
  #lastError: string | undefined
  readonly #batches: PgBatches
  readonly #outbox: PgOutbox
  readonly #admission = new GroupCommit<Admission, Admitted>(async (items) => await this.#admit(items), { max: 200 })
  readonly #finishing = new GroupCommit<Finish, Finished>(async (items) => await this.#finishMany(items), { max: 200 })
  readonly #limitsByBounds = new WeakMap<ClaimBounds, Record<string, number | null>>()
  // The next run-at a claim answered (a runner asks for it right after a claim that left slots free).
  #nextRunAt: { at: number | undefined, seen: number } | undefined
  // The artifacts of jobs this node just made terminal, read with that write (see finishStatement).
  readonly #finishedArtifacts = new Map<string, { artifacts: ArtifactRecord[], at: number }>()

  /**
   * With `events` (opened on the same database), the store appends the events it is given in its own commits and
   * delivers them through `events` (see `JobStore.appendsEvents`).
   */
  constructor (db: PgDatabase, options: { events?: PgJobEvents } = {}) {
    this.#db = db
    this.#events = options.events
    db.retain()
    const query = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> => await this.#query<R>(text, values)
    this.#batches = new PgBatches(query, async (fn) => await this.#transaction(fn))
    this.#outbox = new PgOutbox(query)
  }

  get appendsEvents (): boolean {
    return this.#events !== undefined
  }

  async insertOrGet (job: JobRecord, limits: { maxQueued: number }, event?: CommitEvent): Promise<InsertOutcome> {
    this.#nextRunAt = undefined
    this.#assertOpen()
    const appended = this.#events === undefined || event === undefined ? undefined : JSON.stringify({ kind: event.kind, data: event.data, created_at: Date.now() })
    const { status, row_json: existing, error } = await this.#admission.add({ job, row: jobRowJson(job), maxQueued: limits.maxQueued, event: appended })
    if (error !== undefined) throw error
    if (status === 'existing') return { status, job: toRecord(existing!) }
    if (status === 'queue-full') return { status }
    return { status: 'created', job }
  }

  // The starts that arrived together, in one round trip (jobcast.insert_or_get_many, migration 8): each owner's
  // lock, idempotency look-up, queued count and insert, serialized per owner on every node. A batch that fails for
  // a reason of its own (not the connection) is tried one start at a time, so one bad start fails alone.
  async #admit (items: Admission[]): Promise<Admitted[]> {
    const json = `[${items.map((item) => `{"job":${item.row},"max_queued":${item.maxQueued}${item.event === undefined ? '' : `,"event":${item.event}`}}`).join(',')}]`
    try {
      const write = this.#query<Admitted & { ord: number }>('SELECT * FROM jobcast.insert_or_get_many($1::json, $2)', [json, OWNER_LOCK_NAMESPACE])
        .then(({ rows }) => rows.sort((a, b) => a.ord - b.ord))
      // The ords are 1-based, in the order of `items`.
      return this.#events === undefined
        ? await write
        : await this.#events.appended(write, (rows) => rows.flatMap((row) => typeof row.event_id === 'number' ? [{ id: row.event_id, job: items[row.ord - 1]!.job }] : []))
    } catch (err) {
      if (items.length === 1 || isUnavailable(err)) throw err
      return await Promise.all(items.map(async (item) => await this.#admit([item]).then((rows) => rows[0]!, (error: unknown) => ({ status: 'created' as const, row_json: null, error }))))
    }
  }

  async get (id: string): Promise<JobRecord | undefined> {
    const { rows } = await this.#query<JobRow>('SELECT * FROM jobcast.jobs WHERE id = $1', [id])
    return rows[0] === undefined ? undefined : toRecord(rows[0])
  }

  async peek (id: string): Promise<JobRecord | undefined> {
    const { rows } = await this.#query<JobRow>(`SELECT ${LIST_COLUMNS} FROM jobcast.jobs WHERE id = $1`, [id])
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
    const { rows } = await this.#query<JobRow>(`SELECT ${LIST_COLUMNS} FROM jobcast.jobs WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.length}`, params)
    return rows.map(toRecord)
  }

  async recent (owner: string, finishedSince: number, limit: number): Promise<JobRecord[]> {
    const { rows } = await this.#query<JobRow>(
      `SELECT ${LIST_COLUMNS} FROM jobcast.jobs WHERE owner = $1 AND (finished_at IS NULL OR finished_at >= $2) ORDER BY id DESC LIMIT $3`, [owner, finishedSince, limit])
    return rows.map(toRecord)
  }

  async countQueued (owner: string): Promise<number> {
    // Kept by a trigger (migrations 7 and 9): no scan of the owner's backlog.
    const { rows } = await this.#query<{ n: number }>('SELECT jobcast.queued_of($1) AS n', [owner])
    return rows[0]?.n ?? 0
  }

  async countByState (): Promise<Array<{ type: string, state: JobState, count: number }>> {
    const { rows } = await this.#query<{ type: string, state: JobState, count: string }>('SELECT type, state, count(*) AS count FROM jobcast.jobs GROUP BY type, state ORDER BY type, state', [])
    return rows.map((r) => ({ type: r.type, state: r.state, count: Number(r.count) }))
  }

  async update (job: JobRecord, patch: JobPatch): Promise<JobRecord | undefined> {
    this.#nextRunAt = undefined
    if (patch.state !== undefined && TERMINAL_STATES.has(patch.state)) {
      // A terminal write carries its outbox rows, and a child's its batch's end: one transaction (pg-batches.ts).
      if (job.batchId !== null) return await this.#batches.finishTransition(job, patch)
      return await this.#finish(job, patch)
    }
    const { sets, values } = patchAssignments(patch, 3)
    const { rows } = await this.#query<JobRow>(
      `UPDATE jobcast.jobs SET ${[...sets, 'version = version + 1'].join(', ')} WHERE id = $1 AND version = $2 RETURNING *`,
      [job.id, job.version, ...values])
    return rows[0] === undefined ? undefined : toRecord(rows[0])
  }

  async #finish (job: JobRecord, patch: JobPatch): Promise<JobRecord | undefined> {
    this.#assertOpen()
    const { row, artifacts, error } = await this.#finishing.add({ job, patch })
    if (error !== undefined) throw error
    if (row === undefined) return undefined
    if (this.#finishedArtifacts.size >= 1000) this.#finishedArtifacts.clear()
    this.#finishedArtifacts.set(job.id, { artifacts: artifacts!.map(toArtifact), at: Date.now() })
    return toRecord(row)
  }

  // The terminal writes that arrived together: one statement per set of patched columns. A statement that fails
  // for a reason of its own (not the connection) is tried one write at a time, so one bad write fails alone.
  async #finishMany (items: Finish[]): Promise<Finished[]> {
    const groups = new Map<string, { columns: string[], rows: Array<Record<string, unknown>> }>()
    const now = Date.now()
    items.forEach(({ job, patch }, ord) => {
      const { columns, row } = patchRow(patch)
      const key = columns.join(',')
      let group = groups.get(key)
      if (group === undefined) { group = { columns, rows: [] }; groups.set(key, group) }
      group.rows.push({ ...row, ord, id: job.id, version: job.version, webhook_id: deliveryId(job.id, 'webhook'), email_id: deliveryId(job.id, 'email'), at: now })
    })
    const finished: Finished[] = items.map(() => ({}))
    await Promise.all([...groups.values()].map(async ({ columns, rows }) => {
      try {
        const { rows: written } = await this.#query<{ ord: number, job: JobRow, artifacts: JobRow[] }>(finishStatement(columns), [JSON.stringify(rows)])
        for (const { ord, job, artifacts } of written) finished[ord] = { row: job, artifacts }
      } catch (err) {
        if (rows.length === 1 || isUnavailable(err)) {
          for (const row of rows) finished[row.ord as number] = { error: err }
          return
        }
        await Promise.all(rows.map(async (row) => {
          const ord = row.ord as number
          finished[ord] = (await this.#finishMany([items[ord]!]))[0]!
        }))
      }
    }))
    return finished
  }

  async claim (node: string, max: number, bounds: ClaimBounds, leaseMs: number): Promise<JobRecord[]> {
    if (max <= 0) return []
    const limits = this.#typeLimits(bounds)
    // The bound of a type is asked of `bounds` the first time a candidate of it shows up: the function names the
    // types it does not know (claiming nothing), and is called again with them.
    for (;;) {
      const now = Date.now()
      const { rows } = await this.#query<{ unknown_types: string[] | null, job: JobRow | null, next_run_at: number | null }>(
        'SELECT * FROM jobcast.claim($1, $2, $3, $4::jsonb, $5, $6, $7, $8)',
        [node, Math.min(max, INT_MAX), Math.min(bounds.userConcurrency, INT_MAX), JSON.stringify(limits), now, leaseMs, LOCK_NAMESPACE, LockKey.claim])
      const unknown = rows[0]?.unknown_types
      if (unknown !== null && unknown !== undefined) {
        for (const type of unknown) limits[type] = bounds.typeConcurrency(type) ?? null
        continue
      }
      const jobs = rows.flatMap((row) => row.job === null ? [] : [toRecord(row.job)])
      const last = rows.at(-1)
      this.#nextRunAt = last !== undefined && last.job === null ? { at: last.next_run_at ?? undefined, seen: Date.now() } : undefined
      return jobs
    }
  }

  // The type bounds known for `bounds`, by type (null: no bound), kept while `bounds` lives (a runner keeps one).
  #typeLimits (bounds: ClaimBounds): Record<string, number | null> {
    let limits = this.#limitsByBounds.get(bounds)
    if (limits === undefined) {
      limits = {}
      this.#limitsByBounds.set(bounds, limits)
    }
    return limits
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
    const hint = this.#nextRunAt
    this.#nextRunAt = undefined
    if (hint !== undefined && Date.now() - hint.seen < NEXT_RUN_AT_FRESH_MS) return hint.at
    const { rows } = await this.#query<{ at: number | null }>("SELECT min(run_at) AS at FROM jobcast.jobs WHERE state = 'queued' AND run_at > $1", [Date.now()])
    return rows[0]?.at ?? undefined
  }

  async finishedBefore (time: number, limit: number): Promise<JobRecord[]> {
    const { rows } = await this.#query<JobRow>('SELECT * FROM jobcast.jobs WHERE finished_at < $1 AND batch_id IS NULL ORDER BY finished_at, id LIMIT $2', [time, limit])
    return rows.map(toRecord)
  }

  async delete (ids: string[]): Promise<void> {
    for (const id of ids) this.#finishedArtifacts.delete(id)
    await this.#batches.deleteJobs(ids)
  }

  async addArtifact (artifact: ArtifactRecord): Promise<void> {
    this.#finishedArtifacts.delete(artifact.jobId)
    await this.#query(`
      INSERT INTO jobcast.artifacts (job_id, name, size, content_type, created_at) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (job_id, name) DO UPDATE SET size = excluded.size, content_type = excluded.content_type, created_at = excluded.created_at`,
    [artifact.jobId, artifact.name, artifact.size, artifact.contentType, artifact.createdAt])
  }

  async artifacts (jobId: string): Promise<ArtifactRecord[]> {
    const finished = this.#finishedArtifacts.get(jobId)
    if (finished !== undefined) {
      if (Date.now() - finished.at < FINISHED_ARTIFACTS_MS) return finished.artifacts
      this.#finishedArtifacts.delete(jobId)
    }
    const { rows } = await this.#query<JobRow>('SELECT * FROM jobcast.artifacts WHERE job_id = $1 ORDER BY name', [jobId])
    return rows.map(toArtifact)
  }

  async insertBatch (batch: BatchRecord, children: JobRecord[]): Promise<BatchInsertOutcome> {
    this.#nextRunAt = undefined
    return await this.#batches.insert(batch, children)
  }
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
