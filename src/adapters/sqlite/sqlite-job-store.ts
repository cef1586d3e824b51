import type { Statement } from 'better-sqlite3'
import type { BatchCounts, BatchInsertOutcome, BatchQuery, BatchRecord, DeliveryRecord, DeliveryState, NotifyTargets, StoredAttempt } from '../../core/batch-model.ts'
import { FairQueue } from '../../core/fair-queue.ts'
import { TERMINAL_STATES, type ArtifactRecord, type JobPatch, type JobQuery, type JobRecord, type JobState } from '../../core/model.ts'
import type { ClaimBounds, HeartbeatAnswer, InsertOutcome, JobStore } from '../../ports/job-store.ts'
import type { Db } from './database.ts'
import { COLUMN_FIELDS, FIELDS, insertValues, LIST_COLUMNS, toColumns, toRecord, type Row } from './job-row.ts'
import { SqliteBatches } from './sqlite-batches.ts'
import { SqliteOutbox } from './sqlite-outbox.ts'

/** What the store keeps in memory of each unfinished job: enough for compare-and-set, leases and fair claims. */
interface Meta {
  owner: string
  type: string
  state: JobState
  version: number
  leaseNode: string | null
  leaseExpiresAt: number | null
  /** Its owner asked to cancel it while it ran (kept in memory: one process hears every cancel anyway). */
  cancelRequested?: boolean
}

/** Settings of the SQLite job store. */
export interface SqliteJobStoreOptions {
  /** Hears a failed group commit that no caller was waiting on (the first failure of a run of retries, or a dropped write). */
  onError?: (err: unknown) => void
  /** Hears that writes held back by failed commits are committed at last (after `attempts` tries). */
  onRecovered?: (attempts: number) => void
  /** First wait before a failed commit of accepted changes is tried again, in ms; doubled each time up to 5 s. Default 50. */
  retryBaseMs?: number
  /** Hears each unfinished job found unreadable at open (failed with CORRUPT_RECORD), with its unreadable columns. */
  onCorruptRecord?: (id: string, columns: string[]) => void
}

/**
 * The embedded {@link JobStore}: one SQLite file (better-sqlite3), written by one process (the data folder is
 * locked, see data-folder-lock.ts). Writes are grouped: every write queued in one turn of the event loop is
 * committed in one transaction (~10x cheaper per job than a commit each); reads commit what is queued first, so a
 * read always sees every earlier write. Being the only writer, the store keeps the versions and leases of
 * unfinished jobs in memory and orders claims with a {@link FairQueue}; queued jobs' inputs stay on disk.
 *
 * Durability: `insertOrGet` resolves after its commit. Other writes resolve once queued (visible to every later
 * read); they are committed within the turn, so a kill in that window replays the job (at least once), never loses it.
 * A commit that fails for a reason that can pass (disk full, read-only or busy file, I/O error) refuses the inserts
 * in it (their starts get 503/507) but keeps the changes already accepted (a job's running → completed) and tries
 * them again with backoff: reads see them meanwhile, and once the disk takes writes again they are committed without
 * a restart. {@link health} reports the failure until then.
 */
export class SqliteJobStore implements JobStore {
  readonly #db: Db
  readonly #onError: (err: unknown) => void
  readonly #fair = new FairQueue()
  readonly #meta = new Map<string, Meta>()
  // Nodes that claimed through this store: running jobs leased to any other node were left by an earlier process.
  readonly #nodes = new Set<string>()
  // Writes waiting for the turn's commit: inserts in order, then one merged update per job.
  #inserts = new Map<string, { values: unknown[], key: string | null, job: JobRecord }>()
  #pendingKeys = new Map<string, string>()
  #updates = new Map<string, { columns: Map<string, unknown>, bumps: number }>()
  // Jobs made terminal by the queued updates: their outbox rows and batch ends join the same commit.
  #finishes = new Map<string, { batchId: string | null, at: number }>()
  readonly #outbox: SqliteOutbox
  readonly #batches: SqliteBatches
  #waiters: Array<{ resolve: () => void, reject: (err: unknown) => void }> = []
  #flushTimer: NodeJS.Immediate | undefined
  #lastError: string | undefined
  // Set once an error said the file is damaged: no later success clears it (other pages may be damaged too).
  #damaged: string | undefined
  // Set while accepted writes wait for a commit that failed to be tried again (see #retain).
  #retryTimer: NodeJS.Timeout | undefined
  #retryDelayMs: number
  #failedAttempts = 0
  readonly #retryBaseMs: number
  readonly #onRecovered: (attempts: number) => void
  #closed = false
  readonly #commit: (inserts: Map<string, { values: unknown[] }>, updates: Map<string, { columns: Map<string, unknown>, bumps: number }>, finishes: Map<string, { batchId: string | null, at: number }>) => void
  readonly #updateStatements = new Map<string, Statement>()
  readonly #statements: Record<'insert' | 'byId' | 'peekById' | 'byKey' | 'recent' | 'finishedBefore' | 'delete' | 'addArtifact' | 'artifacts' | 'version', Statement>
  // Ids of the jobs that may have artifacts (a superset): a finished job without any, the common case, needs no query.
  readonly #withArtifacts = new Set<string>()

  constructor (db: Db, options: SqliteJobStoreOptions = {}) {
    this.#db = db
    this.#onError = options.onError ?? ((err) => { throw err })
    this.#onRecovered = options.onRecovered ?? (() => {})
    this.#retryBaseMs = options.retryBaseMs ?? 50
    this.#retryDelayMs = this.#retryBaseMs
    const columns = ['id', ...FIELDS.flatMap((f) => COLUMN_FIELDS[f]), 'version']
    this.#statements = {
      insert: db.prepare(`INSERT INTO jobs (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`),
      byId: db.prepare('SELECT * FROM jobs WHERE id = ?'),
      peekById: db.prepare(`SELECT ${LIST_COLUMNS} FROM jobs WHERE id = ?`),
      byKey: db.prepare('SELECT * FROM jobs WHERE owner = ? AND idempotency_key = ?'),
      recent: db.prepare(`SELECT ${LIST_COLUMNS} FROM jobs WHERE owner = ? AND (finished_at IS NULL OR finished_at >= ?) ORDER BY id DESC LIMIT ?`),
      finishedBefore: db.prepare('SELECT * FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ? AND batch_id IS NULL ORDER BY finished_at LIMIT ?'),
      delete: db.prepare('DELETE FROM jobs WHERE id = ?'),
      addArtifact: db.prepare(`INSERT INTO artifacts (job_id, name, size, content_type, created_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (job_id, name) DO UPDATE SET size = excluded.size, content_type = excluded.content_type, created_at = excluded.created_at`),
      artifacts: db.prepare('SELECT * FROM artifacts WHERE job_id = ? ORDER BY name'),
      version: db.prepare('SELECT version FROM jobs WHERE id = ?')
    }
    this.#outbox = new SqliteOutbox(db)
    this.#batches = new SqliteBatches(db, this.#outbox)
    this.#commit = db.transaction((inserts, updates, finishes) => {
      // Inserts first: an update in the same commit is always of a job inserted before it.
      for (const { values } of inserts.values()) this.#statements.insert.run(values)
      for (const [id, { columns, bumps }] of updates) {
        const names = [...columns.keys()].sort()
        this.#updateStatement(names).run([...names.map((n) => columns.get(n)), bumps, id])
      }
      // After every update: a batch ends only when none of its children is left unfinished.
      for (const [id, { batchId, at }] of finishes) {
        this.#outbox.enqueueForJob(id, at)
        if (batchId !== null) this.#batches.finishIfDone(batchId, at)
      }
    })
    setAsideCorrupt(db, options.onCorruptRecord ?? (() => {}))
    // Unfinished jobs: their bookkeeping in memory (not their inputs), queued ones in fair order.
    const unfinished = db.prepare("SELECT id, owner, type, state, run_at, version, lease_node, lease_expires_at FROM jobs WHERE state IN ('queued', 'running') ORDER BY run_at, id").all() as Row[]
    for (const row of unfinished) {
      const meta: Meta = { owner: row.owner as string, type: row.type as string, state: row.state as JobState, version: row.version as number, leaseNode: row.lease_node as string | null, leaseExpiresAt: row.lease_expires_at as number | null }
      this.#meta.set(row.id as string, meta)
      if (meta.state === 'queued') this.#fair.add({ id: row.id as string, owner: meta.owner, type: meta.type, runAt: row.run_at as number })
      else this.#fair.markRunning(meta.owner, meta.type)
    }
    for (const row of db.prepare('SELECT DISTINCT job_id FROM artifacts').all() as Row[]) this.#withArtifacts.add(row.job_id as string)
  }

  async insertOrGet (job: JobRecord, limits: { maxQueued: number }): Promise<InsertOutcome> {
    const key = job.idempotencyKey === null ? null : `${job.owner}\0${job.idempotencyKey}`
    if (key !== null) {
      const existing = this.#byKey(job.owner, job.idempotencyKey!, key)
      if (existing !== undefined) return { status: 'existing', job: existing }
    }
    // Checked and written in one synchronous step: no other start can slip between the count and the insert.
    if (this.#fair.queuedFor(job.owner) >= limits.maxQueued) return { status: 'queue-full' }
    this.#inserts.set(job.id, { values: insertValues(job), key, job })
    if (key !== null) this.#pendingKeys.set(key, job.id)
    this.#meta.set(job.id, { owner: job.owner, type: job.type, state: job.state, version: job.version, leaseNode: null, leaseExpiresAt: null })
    this.#fair.add(job)
    this.#scheduleFlush()
    await this.#durable()
    return { status: 'created', job }
  }

  // The owner's job with this idempotency key, queued for insert in this turn or committed.
  #byKey (owner: string, idempotencyKey: string, key: string): JobRecord | undefined {
    if (this.#pendingKeys.has(key)) this.flush()
    const row = this.#statements.byKey.get(owner, idempotencyKey) as Row | undefined
    if (row === undefined) return undefined
    // It may have writes queued: read it again after committing them.
    if (this.#updates.has(row.id as string)) return this.#read(row.id as string)
    return toRecord(this.#overlay(row))
  }

  async get (id: string): Promise<JobRecord | undefined> {
    return this.#read(id)
  }

  async peek (id: string): Promise<JobRecord | undefined> {
    this.flush()
    const row = this.#statements.peekById.get(id) as Row | undefined
    return row === undefined ? undefined : toRecord(this.#overlay(row))
  }

  #read (id: string): JobRecord | undefined {
    this.flush()
    const row = this.#statements.byId.get(id) as Row | undefined
    return row === undefined ? undefined : toRecord(this.#overlay(row))
  }

  // A row as the writes still waiting for a retried commit make it (none, in the normal case: reads commit first).
  #overlay (row: Row): Row {
    const pending = this.#updates.get(row.id as string)
    if (pending === undefined) return row
    const overlaid: Row = { ...row, version: (row.version as number) + pending.bumps }
    for (const [name, value] of pending.columns) overlaid[name] = value
    return overlaid
  }

  async list (owner: string, query: JobQuery): Promise<JobRecord[]> {
    this.flush()
    const where = ['owner = ?']
    const params: unknown[] = [owner]
    if (query.state !== undefined) { where.push('state = ?'); params.push(query.state) }
    if (query.type !== undefined) { where.push('type = ?'); params.push(query.type) }
    if (query.batchId !== undefined) { where.push('batch_id = ?'); params.push(query.batchId) }
    if (query.before !== undefined) { where.push('id < ?'); params.push(query.before) }
    params.push(query.limit)
    return (this.#db.prepare(`SELECT ${LIST_COLUMNS} FROM jobs WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`).all(params) as Row[]).map((row) => toRecord(this.#overlay(row)))
  }

  async recent (owner: string, finishedSince: number, limit: number): Promise<JobRecord[]> {
    return this.recentNow(owner, finishedSince, limit)
  }

  /** Synchronous {@link recent}: lets a snapshot and its cursor be read in one tick. */
  recentNow (owner: string, finishedSince: number, limit: number): JobRecord[] {
    this.flush()
    return (this.#statements.recent.all(owner, finishedSince, limit) as Row[]).map((row) => toRecord(this.#overlay(row)))
  }

  async countQueued (owner: string): Promise<number> {
    return this.#fair.queuedFor(owner)
  }

  async countByState (): Promise<Array<{ type: string, state: JobState, count: number }>> {
    this.flush()
    return this.#db.prepare('SELECT type, state, count(*) AS count FROM jobs GROUP BY type, state ORDER BY type, state').all() as Array<{ type: string, state: JobState, count: number }>
  }

  async update (job: JobRecord, patch: JobPatch): Promise<JobRecord | undefined> {
    return this.updateNow(job, patch)
  }

  /** Synchronous {@link update}: the compare-and-set is decided in memory, the write joins the turn's commit. */
  updateNow (job: JobRecord, patch: JobPatch): JobRecord | undefined {
    const meta = this.#meta.get(job.id)
    const version = meta?.version ?? this.#committedVersion(job.id)
    if (version === undefined || version !== job.version) return undefined
    this.#queueUpdate(job.id, toColumns(patch), 1)
    const next: JobRecord = { ...job, ...patch, version: job.version + 1 }
    if (patch.state !== undefined && TERMINAL_STATES.has(patch.state)) this.#finishes.set(job.id, { batchId: job.batchId, at: next.finishedAt ?? Date.now() })
    if (meta !== undefined) this.#track(job.id, meta, next)
    return next
  }

  #committedVersion (id: string): number | undefined {
    this.flush()
    const version = (this.#statements.version.get(id) as { version: number } | undefined)?.version
    return version === undefined ? undefined : version + (this.#updates.get(id)?.bumps ?? 0)
  }

  // Keeps the in-memory bookkeeping in step with a write: fair queue membership, running counts, leases.
  #track (id: string, meta: Meta, next: JobRecord): void {
    const was = meta.state
    meta.version = next.version
    meta.state = next.state
    meta.leaseNode = next.lease?.node ?? null
    meta.leaseExpiresAt = next.lease?.expiresAt ?? null
    if (next.state !== 'running') meta.cancelRequested = false
    if (was === 'running' && next.state !== 'running') this.#fair.markStopped(meta.owner, meta.type)
    if (was === 'queued' && next.state !== 'queued') this.#fair.remove(id)
    if (next.state === 'queued' && (was !== 'queued' || !this.#fair.has(id))) {
      this.#fair.remove(id)
      this.#fair.add({ id, owner: meta.owner, type: meta.type, runAt: next.runAt })
    }
    if (TERMINAL_STATES.has(next.state)) this.#meta.delete(id)
  }

  async claim (node: string, max: number, bounds: ClaimBounds, leaseMs: number): Promise<JobRecord[]> {
    return this.claimNow(node, max, bounds, leaseMs)
  }

  /** Synchronous {@link claim}. */
  claimNow (node: string, max: number, bounds: ClaimBounds, leaseMs: number): JobRecord[] {
    this.#nodes.add(node)
    const now = Date.now()
    const entries = this.#fair.take(max, bounds, now)
    if (entries.length === 0) return []
    // No early commit for the common case: a job inserted this turn is taken as it was inserted, one committed
    // earlier is read as it is; only a job with a write still queued needs the queue committed first.
    if (entries.some((e) => this.#updates.has(e.id))) this.flush()
    const claimed: JobRecord[] = []
    for (const entry of entries) {
      const inserted = this.#inserts.get(entry.id)?.job
      const row = inserted === undefined ? this.#statements.byId.get(entry.id) as Row | undefined : undefined
      const meta = this.#meta.get(entry.id)
      if ((inserted === undefined && row === undefined) || meta === undefined) {
        this.#fair.markStopped(entry.owner, entry.type)
        continue
      }
      const job = inserted !== undefined ? { ...inserted } : toRecord(this.#overlay(row!))
      const patch: JobPatch = { state: 'running', startedAt: now, lease: { node, expiresAt: now + leaseMs } }
      this.#queueUpdate(job.id, toColumns(patch), 1)
      const next: JobRecord = { ...job, ...patch, version: job.version + 1 }
      // Taken from the fair queue already: only the bookkeeping changes.
      meta.state = 'running'
      meta.version = next.version
      meta.leaseNode = node
      meta.leaseExpiresAt = now + leaseMs
      meta.cancelRequested = false
      claimed.push(next)
    }
    return claimed
  }

  async heartbeat (node: string, ids: string[], leaseMs: number): Promise<HeartbeatAnswer> {
    const lost: string[] = []
    const canceled: string[] = []
    const expiresAt = Date.now() + leaseMs
    for (const id of ids) {
      const meta = this.#meta.get(id)
      if (meta?.state !== 'running' || meta.leaseNode !== node) {
        lost.push(id)
        continue
      }
      meta.leaseExpiresAt = expiresAt
      if (meta.cancelRequested === true) canceled.push(id)
      // A lease renewal is not a change of the job: no version bump, so it never races a transition.
      this.#queueUpdate(id, [['lease_expires_at', expiresAt]], 0)
    }
    return { lost, canceled }
  }

  async requestCancel (id: string): Promise<boolean> {
    const meta = this.#meta.get(id)
    if (meta?.state !== 'running') return false
    meta.cancelRequested = true
    return true
  }

  async expiredLeases (now: number, limit: number): Promise<JobRecord[]> {
    const ids: string[] = []
    for (const [id, meta] of this.#meta) {
      if (ids.length >= limit) break
      if (meta.state !== 'running') continue
      const leftByEarlierProcess = meta.leaseNode === null || !this.#nodes.has(meta.leaseNode)
      if (leftByEarlierProcess || (meta.leaseExpiresAt ?? 0) < now) ids.push(id)
    }
    return ids.map((id) => this.#read(id)).filter((job): job is JobRecord => job !== undefined)
  }

  async nextRunAt (): Promise<number | undefined> {
    return this.#fair.nextRunAt()
  }

  async finishedBefore (time: number, limit: number): Promise<JobRecord[]> {
    this.flush()
    return (this.#statements.finishedBefore.all(time, limit) as Row[]).map(toRecord)
  }

  async delete (ids: string[]): Promise<void> {
    this.flush()
    this.#db.transaction(() => {
      for (const id of ids) {
        this.#statements.delete.run(id)
        this.#outbox.forget(id)
      }
    })()
    for (const id of ids) {
      this.#withArtifacts.delete(id)
      const meta = this.#meta.get(id)
      if (meta === undefined) continue
      // Only finished jobs are deleted in practice; an unfinished one leaves the bookkeeping too.
      if (meta.state === 'queued') this.#fair.remove(id)
      if (meta.state === 'running') this.#fair.markStopped(meta.owner, meta.type)
      this.#meta.delete(id)
    }
  }

  async addArtifact (artifact: ArtifactRecord): Promise<void> {
    this.#withArtifacts.add(artifact.jobId)
    this.flush()
    this.#statements.addArtifact.run(artifact.jobId, artifact.name, artifact.size, artifact.contentType, artifact.createdAt)
  }

  async artifacts (jobId: string): Promise<ArtifactRecord[]> {
    return this.artifactsNow(jobId)
  }

  /** Synchronous {@link artifacts}. */
  artifactsNow (jobId: string): ArtifactRecord[] {
    if (!this.#withArtifacts.has(jobId)) return []
    return (this.#statements.artifacts.all(jobId) as Row[]).map((row) => ({
      jobId: row.job_id as string,
      name: row.name as string,
      size: row.size as number,
      contentType: row.content_type as string,
      createdAt: row.created_at as number
    }))
  }

  async insertBatch (batch: BatchRecord, children: JobRecord[]): Promise<BatchInsertOutcome> {
    this.flush()
    if (batch.idempotencyKey !== null) {
      const existing = this.#batches.byKey(batch.owner, batch.idempotencyKey)
      if (existing !== undefined) return { status: 'existing', batch: existing }
    }
    // One commit: the batch, every child, and its end when every child failed at intake already.
    this.#db.transaction(() => {
      this.#batches.insert(batch)
      for (const child of children) this.#statements.insert.run(insertValues(child))
      this.#batches.finishIfDone(batch.id, batch.createdAt)
    })()
    for (const child of children) {
      if (child.state !== 'queued') continue
      this.#meta.set(child.id, { owner: child.owner, type: child.type, state: child.state, version: child.version, leaseNode: null, leaseExpiresAt: null })
      this.#fair.add(child)
    }
    return { status: 'created', batch: this.#batches.get(batch.id)! }
  }

  async getBatch (id: string): Promise<BatchRecord | undefined> {
    this.flush()
    return this.#batches.get(id)
  }

  async listBatches (owner: string, query: BatchQuery): Promise<BatchRecord[]> {
    this.flush()
    return this.#batches.list(owner, query)
  }

  async batchCounts (batchId: string): Promise<BatchCounts> {
    this.flush()
    return this.#batches.counts(batchId)
  }

  async batchesFinishedBefore (time: number, limit: number): Promise<BatchRecord[]> {
    this.flush()
    return this.#batches.finishedBefore(time, limit)
  }

  async deleteBatches (ids: string[]): Promise<void> {
    this.flush()
    this.#batches.delete(ids)
  }

  async setNotify (subjectId: string, owner: string, targets: NotifyTargets): Promise<void> {
    this.#outbox.setNotify(subjectId, owner, targets)
  }

  async deliveries (subjectId: string): Promise<DeliveryRecord[]> {
    this.flush()
    return this.#outbox.deliveries(subjectId)
  }

  async takeDueDeliveries (now: number, limit: number, leaseMs: number): Promise<DeliveryRecord[]> {
    this.flush()
    return this.#outbox.takeDue(now, limit, leaseMs)
  }

  async nextDeliveryAt (): Promise<number | undefined> {
    this.flush()
    return this.#outbox.nextAt()
  }

  async recordDelivery (id: string, attempt: StoredAttempt, next: { state: DeliveryState, nextAt: number | null }): Promise<void> {
    this.#outbox.record(id, attempt, next)
  }

  async webhookSecret (owner: string): Promise<string> {
    return this.#outbox.webhookSecret(owner)
  }

  async rotateWebhookSecret (owner: string): Promise<string> {
    return this.#outbox.rotateWebhookSecret(owner)
  }

  async notifyDefaults (owner: string): Promise<NotifyTargets | null> {
    return this.#outbox.notifyDefaults(owner)
  }

  async setNotifyDefaults (owner: string, targets: NotifyTargets | null): Promise<void> {
    this.#outbox.setNotifyDefaults(owner, targets)
  }

  async deleteUnusedTargets (time: number): Promise<number> {
    this.flush()
    return this.#outbox.deleteUnusedTargets(time)
  }

  async health (): Promise<{ ok: boolean, error?: string, code?: string }> {
    if (this.#damaged !== undefined) return { ok: false, error: this.#damaged, code: 'DATABASE_CORRUPT' }
    return this.#lastError === undefined ? { ok: !this.#closed } : { ok: false, error: this.#lastError }
  }

  /** Marks the file damaged when `err` says so (SQLITE_CORRUPT, SQLITE_NOTADB): health stays 503 until a restart checks it again. */
  reportFault (err: unknown): void {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code)) this.#damaged ??= `the database file is damaged (${code}: ${(err as Error).message}); restore a backup or recover it (README: "A damaged database")`
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.flush({ retrying: true })
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    this.#closed = true
  }

  /**
   * Commits every queued write now. Reads do this first, so they see every earlier write. While accepted writes wait
   * for a retry (the last commit failed), only a new insert (a start waiting for its answer) or the retry itself
   * tries again: reads see the held-back writes meanwhile (laid over the rows they read).
   */
  flush ({ retrying = false }: { retrying?: boolean } = {}): void {
    clearImmediate(this.#flushTimer)
    this.#flushTimer = undefined
    if (this.#inserts.size === 0 && this.#updates.size === 0) return
    if (this.#retryTimer !== undefined && !retrying && this.#inserts.size === 0) return
    const waiters = this.#waiters
    const inserts = this.#inserts
    const updates = this.#updates
    const finishes = this.#finishes
    this.#waiters = []
    this.#inserts = new Map()
    this.#updates = new Map()
    this.#finishes = new Map()
    this.#pendingKeys = new Map()
    try {
      this.#commit(inserts, updates, finishes)
      this.#lastError = undefined
    } catch (err) {
      this.#lastError = (err as Error).message
      this.reportFault(err)
      // The inserts were never durable: their starts are refused, so nothing of them may stay in memory.
      for (const id of inserts.keys()) {
        updates.delete(id)
        finishes.delete(id)
        const meta = this.#meta.get(id)
        if (meta === undefined) continue
        this.#fair.remove(id)
        if (meta.state === 'running') this.#fair.markStopped(meta.owner, meta.type)
        this.#meta.delete(id)
      }
      if (updates.size > 0 && canPass(err)) {
        this.#retain(updates, finishes)
      } else if (this.#retryTimer !== undefined) {
        // Nothing left to retry (or a write that can never pass, now dropped): back to committing every turn.
        clearTimeout(this.#retryTimer)
        this.#retryTimer = undefined
        this.#failedAttempts = 0
        this.#retryDelayMs = this.#retryBaseMs
      }
      // A run of failed retries is told once, at its first failure; a refused start is told to its caller.
      if (waiters.length === 0 && this.#failedAttempts <= 1) this.#onError(err)
      for (const waiter of waiters) waiter.reject(err)
      return
    }
    if (this.#retryTimer !== undefined || this.#failedAttempts > 0) {
      clearTimeout(this.#retryTimer)
      this.#retryTimer = undefined
      this.#onRecovered(this.#failedAttempts + 1)
      this.#failedAttempts = 0
      this.#retryDelayMs = this.#retryBaseMs
    }
    for (const waiter of waiters) waiter.resolve()
  }

  // Puts the accepted writes of a failed commit back in front of the queue, and tries them again later (doubling the
  // wait up to 5 s): the in-memory state already moved on (a job is completed for everyone who asks), so the file
  // must catch up rather than forget.
  #retain (updates: Map<string, { columns: Map<string, unknown>, bumps: number }>, finishes: Map<string, { batchId: string | null, at: number }>): void {
    // Nothing was queued since (a commit is synchronous): these become the queue as they were.
    this.#updates = updates
    this.#finishes = finishes
    this.#failedAttempts++
    clearTimeout(this.#retryTimer)
    this.#retryTimer = setTimeout(() => { this.flush({ retrying: true }) }, this.#retryDelayMs)
    // A retry alone does not keep the process alive; close() makes a last try.
    this.#retryTimer.unref()
    this.#retryDelayMs = Math.min(MAX_RETRY_DELAY_MS, this.#retryDelayMs * 2)
  }

  #queueUpdate (id: string, columns: Array<[string, unknown]>, bumps: number): void {
    let pending = this.#updates.get(id)
    if (pending === undefined) {
      pending = { columns: new Map(), bumps: 0 }
      this.#updates.set(id, pending)
    }
    pending.bumps += bumps
    for (const [name, value] of columns) pending.columns.set(name, value)
    this.#scheduleFlush()
  }

  #updateStatement (names: string[]): Statement {
    const key = names.join(',')
    let statement = this.#updateStatements.get(key)
    if (statement === undefined) {
      statement = this.#db.prepare(`UPDATE jobs SET ${[...names.map((n) => `${n} = ?`), 'version = version + ?'].join(', ')} WHERE id = ?`)
      this.#updateStatements.set(key, statement)
    }
    return statement
  }

  #durable (): Promise<void> {
    if (this.#inserts.size === 0 && this.#updates.size === 0) return Promise.resolve()
    return new Promise((resolve, reject) => { this.#waiters.push({ resolve, reject }) })
  }

  #scheduleFlush (): void {
    // While a failed commit waits for its retry, only a start (an insert) tries earlier.
    if (this.#retryTimer !== undefined && this.#inserts.size === 0) return
    // setImmediate runs after the I/O of this turn: every request parsed in the turn joins the same commit.
    this.#flushTimer ??= setImmediate(() => {
      this.#flushTimer = undefined
      this.flush()
    })
  }
}

/** Longest wait between two tries of a failed commit. */
const MAX_RETRY_DELAY_MS = 5000

// Failures a later try can get past: the disk fills or the file turns read-only or busy for a while. Anything else
// (a statement's own error) would fail the same way every time: those writes are dropped and logged instead.
function canPass (err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && /^SQLITE_(FULL|IOERR|READONLY|BUSY|LOCKED|CANTOPEN|NOMEM|PROTOCOL|CORRUPT|NOTADB)/.test(code)
}

const JSON_COLUMNS = ['input', 'progress', 'result', 'error', 'preview', 'files', 'checkpoint'] as const
const CORRUPT_ERROR = JSON.stringify({ code: 'CORRUPT_RECORD', message: 'the stored job could not be read (damaged JSON); it was set aside and will not run' })

// Unfinished jobs whose JSON columns do not parse would stop every claim and reap: they fail with CORRUPT_RECORD,
// their unreadable columns cleared, so that the server starts and the rest of the work goes on.
function setAsideCorrupt (db: Db, onCorrupt: (id: string, columns: string[]) => void): void {
  const invalid = JSON_COLUMNS.map((c) => `coalesce(json_valid(${c}), 1) = 0`).join(' OR ')
  const rows = db.prepare(`SELECT id, ${JSON_COLUMNS.map((c) => `coalesce(json_valid(${c}), 1) AS ${c}_ok`).join(', ')} FROM jobs WHERE state IN ('queued', 'running') AND (${invalid})`).all() as Row[]
  if (rows.length === 0) return
  const now = Date.now()
  db.transaction(() => {
    for (const row of rows) {
      const bad = JSON_COLUMNS.filter((c) => row[`${c}_ok`] === 0)
      // JSON text rather than NULL: some columns are NOT NULL.
      const cleared = bad.filter((c) => c !== 'error').map((c) => `${c} = '${c === 'files' ? '[]' : 'null'}'`)
      db.prepare(`UPDATE jobs SET ${[...cleared, "state = 'failed'", 'error = ?', 'finished_at = ?', 'lease_node = NULL', 'lease_expires_at = NULL', 'version = version + 1'].join(', ')} WHERE id = ?`)
        .run(CORRUPT_ERROR, now, row.id)
      onCorrupt(row.id as string, bad)
    }
  })()
}
