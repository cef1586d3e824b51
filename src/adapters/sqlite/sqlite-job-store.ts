import type { Statement } from 'better-sqlite3'
import type { Db } from './database.ts'
import type { ArtifactRecord, JobQuery, JobRecord, JobStore } from './types.ts'

type Row = Record<string, unknown>
type Field = keyof Omit<JobRecord, 'id' | 'version'>

// How each record field is stored: its column, and whether it is JSON text.
const COLUMNS: Record<Field, { column: string, json: boolean }> = {
  type: { column: 'type', json: false },
  owner: { column: 'owner', json: false },
  state: { column: 'state', json: false },
  input: { column: 'input', json: true },
  progress: { column: 'progress', json: true },
  result: { column: 'result', json: true },
  error: { column: 'error', json: true },
  preview: { column: 'preview', json: true },
  files: { column: 'files', json: true },
  checkpoint: { column: 'checkpoint', json: true },
  attempt: { column: 'attempt', json: false },
  maxAttempts: { column: 'max_attempts', json: false },
  createdAt: { column: 'created_at', json: false },
  startedAt: { column: 'started_at', json: false },
  finishedAt: { column: 'finished_at', json: false },
  runAt: { column: 'run_at', json: false },
  batchId: { column: 'batch_id', json: false },
  idempotencyKey: { column: 'idempotency_key', json: false },
  requestHash: { column: 'request_hash', json: false }
}
const FIELDS = Object.keys(COLUMNS) as Field[]

function toColumn (field: Field, value: unknown): unknown {
  if (!COLUMNS[field].json) return value
  return value === undefined || value === null ? null : JSON.stringify(value)
}

function parse (text: unknown): unknown {
  return typeof text === 'string' ? JSON.parse(text) : null
}

function toRecord (row: Row): JobRecord {
  return {
    id: row.id as string,
    type: row.type as string,
    owner: row.owner as string,
    state: row.state as JobRecord['state'],
    input: parse(row.input),
    progress: parse(row.progress) as JobRecord['progress'],
    result: parse(row.result),
    error: parse(row.error) as JobRecord['error'],
    preview: parse(row.preview),
    files: (parse(row.files) ?? []) as JobRecord['files'],
    checkpoint: parse(row.checkpoint),
    attempt: row.attempt as number,
    maxAttempts: row.max_attempts as number,
    createdAt: row.created_at as number,
    startedAt: row.started_at as number | null,
    finishedAt: row.finished_at as number | null,
    runAt: row.run_at as number,
    batchId: row.batch_id as string | null,
    idempotencyKey: row.idempotency_key as string | null,
    requestHash: row.request_hash as string | null,
    version: row.version as number
  }
}

/**
 * The default {@link JobStore}: one SQLite file (better-sqlite3). Writes are grouped: `insert` and `update`
 * queue their write (updates of one job merged) and every write queued in one turn of the event loop is committed in one transaction
 * (on this machine that is ~10x cheaper per job than a commit each). Reads commit what is queued first, so a
 * read always sees every earlier write; `durable()` resolves once the writes made so far are committed.
 */
export class SqliteJobStore implements JobStore {
  readonly #db: Db
  readonly #onError: (err: unknown) => void
  // Writes waiting for the turn's commit: inserts in order, then one merged update per job (a job that
  // starts and finishes within a turn is written once, not twice).
  #inserts: unknown[][] = []
  #updates = new Map<string, { columns: Map<Field, unknown>, writes: number }>()
  #waiters: Array<{ resolve: () => void, reject: (err: unknown) => void }> = []
  #flushTimer: NodeJS.Immediate | undefined
  readonly #commitPending: () => void
  readonly #updateStatements = new Map<string, Statement>()
  readonly #insert: Statement
  readonly #byId: Statement
  readonly #byIdempotencyKey: Statement
  readonly #queued: Statement
  readonly #recent: Statement
  readonly #running: Statement
  readonly #finishedBefore: Statement
  readonly #delete: Statement
  readonly #addArtifact: Statement
  readonly #artifacts: Statement
  // Ids of the jobs that may have artifacts (a superset: kept through rolled-back writes): a finished job
  // without any, the common case, is answered without a query. Every artifact row is written by addArtifact.
  readonly #withArtifacts = new Set<string>()

  /** `onError` hears a failed group commit that no `durable()` caller was waiting on. */
  constructor (db: Db, options: { onError?: (err: unknown) => void } = {}) {
    this.#db = db
    this.#onError = options.onError ?? ((err) => { throw err })
    this.#commitPending = db.transaction(() => {
      // Inserts first: an update in the same commit is always of a job inserted before it.
      for (const values of this.#inserts) this.#insert.run(values)
      for (const [id, { columns, writes }] of this.#updates) {
        const fields = [...columns.keys()].sort()
        this.#updateStatement(fields).run([...fields.map((f) => columns.get(f)), writes, id])
      }
    })
    const columns = ['id', ...FIELDS.map((f) => COLUMNS[f].column), 'version']
    this.#insert = db.prepare(`INSERT INTO jobs (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`)
    this.#byId = db.prepare('SELECT * FROM jobs WHERE id = ?')
    this.#byIdempotencyKey = db.prepare('SELECT * FROM jobs WHERE owner = ? AND idempotency_key = ?')
    this.#recent = db.prepare('SELECT * FROM jobs WHERE owner = ? AND (finished_at IS NULL OR finished_at >= ?) ORDER BY id DESC LIMIT ?')
    this.#queued = db.prepare("SELECT * FROM jobs WHERE state = 'queued' ORDER BY run_at, id")
    this.#running = db.prepare("SELECT * FROM jobs WHERE state = 'running' ORDER BY id")
    this.#finishedBefore = db.prepare('SELECT * FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ? ORDER BY finished_at LIMIT ?')
    this.#delete = db.prepare('DELETE FROM jobs WHERE id = ?')
    this.#addArtifact = db.prepare(`INSERT INTO artifacts (job_id, name, size, content_type, created_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (job_id, name) DO UPDATE SET size = excluded.size, content_type = excluded.content_type, created_at = excluded.created_at`)
    this.#artifacts = db.prepare('SELECT * FROM artifacts WHERE job_id = ? ORDER BY name')
    for (const row of db.prepare('SELECT DISTINCT job_id FROM artifacts').all() as Row[]) this.#withArtifacts.add(row.job_id as string)
  }

  insert (job: JobRecord): void {
    this.#inserts.push([job.id, ...FIELDS.map((f) => toColumn(f, job[f])), job.version])
    this.#scheduleFlush()
  }

  get (id: string): JobRecord | undefined {
    this.flush()
    const row = this.#byId.get(id) as Row | undefined
    return row === undefined ? undefined : toRecord(row)
  }

  findByIdempotencyKey (owner: string, key: string): JobRecord | undefined {
    this.flush()
    const row = this.#byIdempotencyKey.get(owner, key) as Row | undefined
    return row === undefined ? undefined : toRecord(row)
  }

  list (owner: string, query: JobQuery): JobRecord[] {
    this.flush()
    const where = ['owner = ?']
    const params: unknown[] = [owner]
    if (query.state !== undefined) { where.push('state = ?'); params.push(query.state) }
    if (query.type !== undefined) { where.push('type = ?'); params.push(query.type) }
    if (query.batchId !== undefined) { where.push('batch_id = ?'); params.push(query.batchId) }
    if (query.before !== undefined) { where.push('id < ?'); params.push(query.before) }
    params.push(query.limit)
    const sql = `SELECT * FROM jobs WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`
    return (this.#db.prepare(sql).all(params) as Row[]).map(toRecord)
  }

  update (id: string, patch: Partial<Omit<JobRecord, 'id' | 'version'>>): void {
    let pending = this.#updates.get(id)
    if (pending === undefined) {
      pending = { columns: new Map(), writes: 0 }
      this.#updates.set(id, pending)
    }
    pending.writes++
    // Serialized now: the caller may change its objects after this call.
    for (const field of Object.keys(patch) as Field[]) {
      if (field in COLUMNS) pending.columns.set(field, toColumn(field, patch[field]))
    }
    this.#scheduleFlush()
  }

  #updateStatement (fields: Field[]): Statement {
    const key = fields.join(',')
    let statement = this.#updateStatements.get(key)
    if (statement === undefined) {
      const sets = fields.map((f) => `${COLUMNS[f].column} = ?`)
      statement = this.#db.prepare(`UPDATE jobs SET ${[...sets, 'version = version + ?'].join(', ')} WHERE id = ?`)
      this.#updateStatements.set(key, statement)
    }
    return statement
  }

  durable (): Promise<void> {
    if (this.#inserts.length === 0 && this.#updates.size === 0) return Promise.resolve()
    return new Promise((resolve, reject) => { this.#waiters.push({ resolve, reject }) })
  }

  flush (): void {
    clearImmediate(this.#flushTimer)
    this.#flushTimer = undefined
    if (this.#inserts.length === 0 && this.#updates.size === 0) return
    const waiters = this.#waiters
    this.#waiters = []
    try {
      this.#commitPending()
    } catch (err) {
      if (waiters.length === 0) this.#onError(err)
      for (const waiter of waiters) waiter.reject(err)
      return
    } finally {
      this.#inserts = []
      this.#updates = new Map()
    }
    for (const waiter of waiters) waiter.resolve()
  }

  #scheduleFlush (): void {
    // setImmediate runs after the I/O of this turn: every request parsed in the turn joins the same commit.
    this.#flushTimer ??= setImmediate(() => {
      this.#flushTimer = undefined
      this.flush()
    })
  }

  recent (owner: string, finishedSince: number, limit: number): JobRecord[] {
    this.flush()
    return (this.#recent.all(owner, finishedSince, limit) as Row[]).map(toRecord)
  }

  queued (): JobRecord[] {
    this.flush()
    return (this.#queued.all() as Row[]).map(toRecord)
  }

  running (): JobRecord[] {
    this.flush()
    return (this.#running.all() as Row[]).map(toRecord)
  }

  finishedBefore (time: number, limit: number): JobRecord[] {
    this.flush()
    return (this.#finishedBefore.all(time, limit) as Row[]).map(toRecord)
  }

  delete (ids: string[]): void {
    this.flush()
    this.transaction(() => { for (const id of ids) this.#delete.run(id) })
    // Inside an outer transaction the delete may still be rolled back: keep the ids then.
    if (!this.#db.inTransaction) for (const id of ids) this.#withArtifacts.delete(id)
  }

  addArtifact (artifact: ArtifactRecord): void {
    this.#withArtifacts.add(artifact.jobId)
    this.flush()
    this.#addArtifact.run(artifact.jobId, artifact.name, artifact.size, artifact.contentType, artifact.createdAt)
  }

  artifacts (jobId: string): ArtifactRecord[] {
    if (!this.#withArtifacts.has(jobId)) return []
    return (this.#artifacts.all(jobId) as Row[]).map((row) => ({
      jobId: row.job_id as string,
      name: row.name as string,
      size: row.size as number,
      contentType: row.content_type as string,
      createdAt: row.created_at as number
    }))
  }

  transaction<T> (fn: () => T): T {
    this.flush()
    return this.#db.transaction(fn)()
  }
}
