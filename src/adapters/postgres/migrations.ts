import { randomBytes } from 'node:crypto'
import type pg from 'pg'

/** Namespace of jobcast's advisory locks (the first key of the two-key form); the second key says what is locked. */
export const LOCK_NAMESPACE = 0x6a6f6263 // 'jobc'
/** Second keys of the advisory locks in {@link LOCK_NAMESPACE}. */
export const LockKey = { migrate: 1, claim: 2 } as const
/** Namespace of the per-owner admission locks (second key: hashtext(owner)). */
export const OWNER_LOCK_NAMESPACE = LOCK_NAMESPACE + 1

// Each entry moves the schema one version forward; jobcast.migrations records how far a database is.
// Everything lives in the `jobcast` schema, so that the database can be one the operator already uses.
const MIGRATIONS: string[] = [
  `
  CREATE TABLE jobcast.meta (key text PRIMARY KEY, value text NOT NULL);
  CREATE TABLE jobcast.jobs (
    id text PRIMARY KEY,
    type text NOT NULL,
    owner text NOT NULL,
    state text NOT NULL,
    input json,
    progress json,
    result json,
    error json,
    preview json,
    files json,
    checkpoint json,
    attempt integer NOT NULL,
    max_attempts integer NOT NULL,
    created_at bigint NOT NULL,
    started_at bigint,
    finished_at bigint,
    run_at bigint NOT NULL,
    batch_id text,
    idempotency_key text,
    request_hash text,
    lease_node text,
    lease_expires_at bigint,
    version integer NOT NULL
  );
  CREATE UNIQUE INDEX jobs_idempotency ON jobcast.jobs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
  CREATE INDEX jobs_owner ON jobcast.jobs (owner, id);
  CREATE INDEX jobs_queued ON jobcast.jobs (owner, type, run_at, id) WHERE state = 'queued';
  CREATE INDEX jobs_queued_run_at ON jobcast.jobs (run_at) WHERE state = 'queued';
  CREATE INDEX jobs_running ON jobcast.jobs (lease_expires_at) WHERE state = 'running';
  CREATE INDEX jobs_finished ON jobcast.jobs (finished_at) WHERE finished_at IS NOT NULL;
  CREATE INDEX jobs_batch ON jobcast.jobs (batch_id) WHERE batch_id IS NOT NULL;
  CREATE TABLE jobcast.owner_turns (owner text PRIMARY KEY, served bigint NOT NULL);
  CREATE INDEX owner_turns_served ON jobcast.owner_turns (served);
  CREATE TABLE jobcast.artifacts (
    job_id text NOT NULL REFERENCES jobcast.jobs (id) ON DELETE CASCADE,
    name text NOT NULL,
    size bigint NOT NULL,
    content_type text NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (job_id, name)
  );
  CREATE TABLE jobcast.events (
    id bigserial PRIMARY KEY,
    owner text NOT NULL,
    seq bigint NOT NULL,
    kind text NOT NULL,
    job_id text NOT NULL,
    batch_id text,
    data text NOT NULL,
    created_at bigint NOT NULL,
    UNIQUE (owner, seq)
  );
  CREATE INDEX events_created ON jobcast.events (created_at);
  CREATE TABLE jobcast.event_owners (
    owner text PRIMARY KEY,
    seq bigint NOT NULL,
    pruned bigint NOT NULL DEFAULT 0
  );
  CREATE TABLE jobcast.users (name text PRIMARY KEY, created_at bigint NOT NULL);
  CREATE TABLE jobcast.tokens (
    hash text PRIMARY KEY,
    user_name text NOT NULL REFERENCES jobcast.users (name) ON DELETE CASCADE,
    created_at bigint NOT NULL
  );
  CREATE INDEX tokens_user ON jobcast.tokens (user_name);
  CREATE TABLE jobcast.sessions (
    hash text PRIMARY KEY,
    user_name text NOT NULL REFERENCES jobcast.users (name) ON DELETE CASCADE,
    expires_at bigint NOT NULL
  );
  CREATE INDEX sessions_user ON jobcast.sessions (user_name);
  CREATE INDEX sessions_expires ON jobcast.sessions (expires_at);
  `,
  // 2: batches, the notification outbox (targets, deliveries) and the users' webhook secrets. New tables only.
  `
  CREATE TABLE jobcast.batches (
    id text PRIMARY KEY,
    type text NOT NULL,
    owner text NOT NULL,
    input json,
    total integer NOT NULL,
    created_at bigint NOT NULL,
    finished_at bigint,
    idempotency_key text,
    request_hash text,
    notify json
  );
  CREATE UNIQUE INDEX batches_idempotency ON jobcast.batches (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
  CREATE INDEX batches_owner ON jobcast.batches (owner, id);
  CREATE TABLE jobcast.notify_targets (subject_id text PRIMARY KEY, owner text NOT NULL, webhook text, email text);
  CREATE TABLE jobcast.deliveries (
    id text PRIMARY KEY,
    owner text NOT NULL,
    subject_kind text NOT NULL,
    subject_id text NOT NULL,
    channel text NOT NULL,
    target text NOT NULL,
    state text NOT NULL,
    attempts jsonb NOT NULL DEFAULT '[]',
    next_at bigint,
    created_at bigint NOT NULL
  );
  CREATE INDEX deliveries_subject ON jobcast.deliveries (subject_id, created_at);
  CREATE INDEX deliveries_due ON jobcast.deliveries (next_at) WHERE state = 'pending';
  CREATE TABLE jobcast.webhook_secrets (owner text PRIMARY KEY, secret text NOT NULL, created_at bigint NOT NULL);
  `,
  // 3: a cancel recorded on the running job, for the node that missed its notification (seen at its heartbeat).
  `
  ALTER TABLE jobcast.jobs ADD COLUMN cancel_requested_at bigint;
  `,
  // 4: admission in one round trip. The owner's lock, the idempotency look-up, the count and the insert run in the
  // server; each statement of a VOLATILE function takes a fresh snapshot, so the look-up and the count see every
  // insert committed before the lock was granted. The lock is held for microseconds instead of five round trips.
  `
  CREATE FUNCTION jobcast.insert_or_get(job jobcast.jobs, max_queued bigint, lock_namespace integer)
  RETURNS TABLE (status text, row_json json) LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    earlier jobcast.jobs;
    queued bigint;
  BEGIN
    PERFORM pg_advisory_xact_lock(lock_namespace, hashtext(job.owner));
    IF job.idempotency_key IS NOT NULL THEN
      SELECT * INTO earlier FROM jobcast.jobs j WHERE j.owner = job.owner AND j.idempotency_key = job.idempotency_key;
      IF FOUND THEN RETURN QUERY SELECT 'existing'::text, row_to_json(earlier); RETURN; END IF;
    END IF;
    SELECT count(*) INTO queued FROM jobcast.jobs j WHERE j.owner = job.owner AND j.state = 'queued';
    IF queued >= max_queued THEN RETURN QUERY SELECT 'queue-full'::text, NULL::json; RETURN; END IF;
    INSERT INTO jobcast.jobs SELECT (job).*;
    RETURN QUERY SELECT 'created'::text, NULL::json;
  END $$;
  `,
  // 5: each user's default notify targets; retention finds ended batches without a scan; service limits across
  // nodes (pg-service-limiter.ts): slots held under a lease, and each key's last start.
  `
  CREATE TABLE jobcast.notify_defaults (owner text PRIMARY KEY, webhook text, email text, updated_at bigint NOT NULL);
  CREATE INDEX batches_finished ON jobcast.batches (finished_at) WHERE finished_at IS NOT NULL;
  CREATE TABLE jobcast.service_slots (key text NOT NULL, slot integer NOT NULL, holder text, expires_at bigint, PRIMARY KEY (key, slot));
  CREATE INDEX service_slots_holder ON jobcast.service_slots (holder) WHERE holder IS NOT NULL;
  CREATE TABLE jobcast.service_rates (key text PRIMARY KEY, last_start_at bigint NOT NULL);
  `
]

/** The schema version this build migrates to. */
export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * Brings the schema up to date. Holds a session advisory lock meanwhile: nodes starting at once wait for the
 * first one and then find nothing to do. Each step commits with its version row, so a failed step leaves the
 * database at the previous version.
 */
export async function migrate (pool: pg.Pool): Promise<void> {
  const client = await pool.connect()
  // Lost between two statements, the connection must not emit an unhandled 'error': the next statement fails.
  const ignore = (): void => {}
  client.on('error', ignore)
  try {
    await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, LockKey.migrate])
    try {
      await client.query('CREATE SCHEMA IF NOT EXISTS jobcast')
      await client.query('CREATE TABLE IF NOT EXISTS jobcast.migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
      const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM jobcast.migrations')
      for (let version = rows[0]?.version ?? 0; version < MIGRATIONS.length; version++) {
        await client.query('BEGIN')
        try {
          await client.query(MIGRATIONS[version]!)
          if (version === 0) {
            // The epoch of the event log: part of every cursor, so a cursor from another database is refused.
            await client.query("INSERT INTO jobcast.meta (key, value) VALUES ('events_epoch', $1)", [randomBytes(4).toString('hex')])
          }
          await client.query('INSERT INTO jobcast.migrations (version) VALUES ($1)', [version + 1])
          await client.query('COMMIT')
        } catch (err) {
          await client.query('ROLLBACK')
          throw err
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, LockKey.migrate])
    }
  } finally {
    client.off('error', ignore)
    client.release()
  }
}
