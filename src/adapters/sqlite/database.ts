import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

/** The SQLite handle type used across the stores. */
export type Db = Database.Database

// Each entry moves the schema one version forward; PRAGMA user_version records how far a file is.
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    owner TEXT NOT NULL,
    state TEXT NOT NULL,
    input TEXT NOT NULL,
    progress TEXT,
    result TEXT,
    error TEXT,
    preview TEXT,
    files TEXT,
    checkpoint TEXT,
    attempt INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    run_at INTEGER NOT NULL,
    batch_id TEXT,
    idempotency_key TEXT,
    request_hash TEXT,
    version INTEGER NOT NULL DEFAULT 1
  );
  CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
  CREATE INDEX jobs_owner ON jobs (owner, id);
  CREATE INDEX jobs_state ON jobs (state, run_at);
  CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
  CREATE INDEX jobs_batch ON jobs (batch_id) WHERE batch_id IS NOT NULL;
  CREATE TABLE artifacts (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, name)
  );
  CREATE TABLE users (
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
  );
  `,
  // 2: leases: which node runs a job, and until when its claim holds without a heartbeat.
  `
  ALTER TABLE jobs ADD COLUMN lease_node TEXT;
  ALTER TABLE jobs ADD COLUMN lease_expires_at INTEGER;
  `,
  // 3: revoking a user's tokens and sessions, and purging expired sessions, without a full scan.
  `
  CREATE INDEX tokens_user ON tokens (user_name);
  CREATE INDEX sessions_user ON sessions (user_name);
  CREATE INDEX sessions_expiry ON sessions (expires_at);
  `,
  // 4: batches, the notification outbox (targets, deliveries) and the users' webhook secrets.
  `
  CREATE TABLE batches (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    owner TEXT NOT NULL,
    input TEXT NOT NULL,
    total INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    idempotency_key TEXT,
    request_hash TEXT,
    notify TEXT
  );
  CREATE UNIQUE INDEX batches_idempotency ON batches (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
  CREATE INDEX batches_owner ON batches (owner, id);
  CREATE INDEX jobs_batch_state ON jobs (batch_id, state) WHERE batch_id IS NOT NULL;
  CREATE TABLE notify_targets (
    subject_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    webhook TEXT,
    email TEXT
  );
  CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts TEXT NOT NULL DEFAULT '[]',
    next_at INTEGER,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX deliveries_subject ON deliveries (subject_id, created_at);
  CREATE INDEX deliveries_due ON deliveries (next_at) WHERE state = 'pending';
  CREATE TABLE webhook_secrets (
    owner TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  `,
  // 5: each user's default notify targets; retention finds ended batches without a scan.
  `
  CREATE TABLE notify_defaults (
    owner TEXT PRIMARY KEY,
    webhook TEXT,
    email TEXT,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX batches_finished ON batches (finished_at) WHERE finished_at IS NOT NULL;
  `
]

/**
 * Opens (creating if needed) `jobcast.db` under `dataDir` in WAL mode, checks it (`PRAGMA quick_check`) and brings its
 * schema up to date. A damaged file is refused with DATABASE_CORRUPT, naming it and how to recover: a server that
 * started on it would answer 500s here and there while saying it is healthy.
 */
export function openDatabase (dataDir: string): Db {
  mkdirSync(dataDir, { recursive: true })
  const path = join(dataDir, 'jobcast.db')
  let db: Db | undefined
  try {
    db = new Database(path)
    return prepare(db)
  } catch (err) {
    db?.close()
    const code = (err as { code?: unknown }).code
    if (err instanceof DatabaseCorruptError || (typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code))) {
      throw new DatabaseCorruptError(path, err instanceof DatabaseCorruptError ? err.problems : (err as Error).message)
    }
    throw err
  }
}

/** A data folder's SQLite file that is damaged (code DATABASE_CORRUPT); the message says how to recover. */
export class DatabaseCorruptError extends Error {
  readonly code = 'DATABASE_CORRUPT'
  readonly problems: string

  constructor (path: string, problems: string) {
    super(`DATABASE_CORRUPT: the database ${path} is damaged (${problems}); jobcast does not start on it. Restore a backup, or recover what is readable with sqlite3's .recover (README: "A damaged database")`)
    this.name = 'DatabaseCorruptError'
    this.problems = problems
  }
}

// Settings, the integrity check and the migrations of an opened file.
function prepare (db: Db): Db {
  db.pragma('journal_mode = WAL')
  // NORMAL in WAL mode survives a process crash (the kill -9 case); only an OS crash can lose the last commits.
  db.pragma('synchronous = NORMAL')
  db.pragma('foreign_keys = ON')
  db.pragma('busy_timeout = 5000')
  // A checkpoint runs inside the commit that crosses this many WAL pages and stalls it while it copies and syncs.
  // Small and often (100, not SQLite's 1,000) keeps each stall about a millisecond: start p99 4.7 ms instead of
  // 13 ms at 1,000 starts/s, for ~15 % less peak throughput (docs/BENCHMARKS.md).
  db.pragma('wal_autocheckpoint = 100')
  // Every page of every table and index read once (no cross-check of indexes against rows: that is integrity_check's
  // cost); the first few problems are named.
  const problems = (db.pragma('quick_check(5)') as Array<{ quick_check: string }>).map((r) => r.quick_check)
  if (problems.length !== 1 || problems[0] !== 'ok') throw new DatabaseCorruptError('', problems.join('; '))
  const current = db.pragma('user_version', { simple: true }) as number
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!)
      db.pragma(`user_version = ${version + 1}`)
    })()
  }
  return db
}
