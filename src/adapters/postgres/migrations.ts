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
  `,
  // 6: a claim in one round trip. The cluster-wide claim lock was held across eight round trips (lock, running
  // counts, candidates, turns, update, turns, commit); in the server it is held for the function and its commit.
  // The pick: round-robin between owners (served longest ago first, never served before all, then the one whose
  // oldest runnable job waits longest), and within an owner the oldest runnable job of a type with room, so that a
  // type at its bound does not block the owner's other types; never beyond the per-owner and per-type bounds. `type_limits` maps each type to its bound (null:
  // none); when a candidate's type is not in it, nothing is claimed and the row names the types to ask about.
  // A claim that takes fewer than `max_jobs` also answers when the next delayed job becomes runnable.
  `
  CREATE FUNCTION jobcast.claim(node text, max_jobs integer, user_limit integer, type_limits jsonb, now_ms bigint,
    lease_ms bigint, lock_namespace integer, lock_key integer)
  RETURNS TABLE (unknown_types text[], job json, next_run_at bigint) LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    c_id text[]; c_owner text[]; c_type text[]; c_run bigint[];
    n integer;
    missing text[];
    o_name text[] := '{}'; o_head integer[] := '{}'; o_lane_first integer[] := '{}'; o_lane_last integer[] := '{}'; o_running integer[];
    l_next integer[] := '{}'; l_last integer[] := '{}'; l_type integer[] := '{}';
    t_name text[] := '{}'; t_limit integer[] := '{}'; t_running integer[];
    n_owners integer := 0; n_lanes integer := 0; t integer; o integer; l integer; best integer;
    ring integer[]; next_ring integer[];
    picks integer[] := '{}'; n_picked integer := 0;
    latest bigint;
    claimed json[]; claimed_owners text[];
  BEGIN
    PERFORM pg_advisory_xact_lock(lock_namespace, lock_key);
    -- Every (owner, type) with queued jobs by a skip scan of jobs_queued, then each group's first runnable jobs.
    WITH RECURSIVE groups AS (
      (SELECT j.owner, j.type FROM jobcast.jobs j WHERE j.state = 'queued' ORDER BY j.owner, j.type LIMIT 1)
      UNION ALL
      SELECT nx.owner, nx.type FROM groups, LATERAL (
        SELECT j.owner, j.type FROM jobcast.jobs j
        WHERE j.state = 'queued' AND (j.owner, j.type) > (groups.owner, groups.type)
        ORDER BY j.owner, j.type LIMIT 1
      ) nx
    ), heads AS (
      SELECT h.id, h.owner, h.type, h.run_at FROM groups, LATERAL (
        SELECT j.id, j.owner, j.type, j.run_at FROM jobcast.jobs j
        WHERE j.state = 'queued' AND j.owner = groups.owner AND j.type = groups.type AND j.run_at <= now_ms
        ORDER BY j.run_at, j.id LIMIT least(max_jobs, user_limit)
      ) h
    )
    SELECT array_agg(h.id ORDER BY h.owner, h.type, h.run_at, h.id), array_agg(h.owner ORDER BY h.owner, h.type, h.run_at, h.id),
      array_agg(h.type ORDER BY h.owner, h.type, h.run_at, h.id), array_agg(h.run_at ORDER BY h.owner, h.type, h.run_at, h.id)
    INTO c_id, c_owner, c_type, c_run FROM heads h;
    n := coalesce(array_length(c_id, 1), 0);
    IF n > 0 THEN
      SELECT array_agg(DISTINCT x) INTO missing FROM unnest(c_type) x WHERE NOT (type_limits ? x);
      IF missing IS NOT NULL THEN RETURN QUERY SELECT missing, NULL::json, NULL::bigint; RETURN; END IF;
      -- Owners, and their lanes (one per type), are runs of the candidates: they come ordered by owner and type.
      FOR i IN 1..n LOOP
        IF i = 1 OR c_owner[i] <> c_owner[i - 1] THEN
          n_owners := n_owners + 1;
          o_name[n_owners] := c_owner[i]; o_head[n_owners] := i; o_lane_first[n_owners] := n_lanes + 1;
        ELSIF c_run[i] < c_run[o_head[n_owners]] OR (c_run[i] = c_run[o_head[n_owners]] AND c_id[i] COLLATE "C" < c_id[o_head[n_owners]] COLLATE "C") THEN
          o_head[n_owners] := i;
        END IF;
        IF i = 1 OR c_owner[i] <> c_owner[i - 1] OR c_type[i] <> c_type[i - 1] THEN
          n_lanes := n_lanes + 1;
          t := array_position(t_name, c_type[i]);
          IF t IS NULL THEN
            t_name := t_name || c_type[i];
            t := array_length(t_name, 1);
            t_limit[t] := (type_limits ->> c_type[i])::integer;
          END IF;
          l_next[n_lanes] := i; l_type[n_lanes] := t;
        END IF;
        l_last[n_lanes] := i; o_lane_last[n_owners] := n_lanes;
      END LOOP;
      -- What runs now, cluster-wide: the claim lock keeps it true until this commits.
      SELECT array_agg(coalesce(r.n, 0)::integer ORDER BY u.ord) INTO o_running FROM unnest(o_name) WITH ORDINALITY u(name, ord)
        LEFT JOIN (SELECT j.owner, count(*) AS n FROM jobcast.jobs j WHERE j.state = 'running' AND j.owner = ANY(o_name) GROUP BY j.owner) r ON r.owner = u.name;
      SELECT array_agg(coalesce(r.n, 0)::integer ORDER BY u.ord) INTO t_running FROM unnest(t_name) WITH ORDINALITY u(name, ord)
        LEFT JOIN (SELECT j.type, count(*) AS n FROM jobcast.jobs j WHERE j.state = 'running' AND j.type = ANY(t_name) GROUP BY j.type) r ON r.type = u.name;
      -- The ring: the owner served longest ago first (never served: first of all), then the one waiting longest.
      SELECT array_agg(u.ord ORDER BY coalesce(s.served, 0), c_run[u.head], c_id[u.head] COLLATE "C") INTO ring
        FROM unnest(o_name, o_head) WITH ORDINALITY u(name, head, ord) LEFT JOIN jobcast.owner_turns s ON s.owner = u.name;
      WHILE n_picked < max_jobs AND coalesce(array_length(ring, 1), 0) > 0 LOOP
        next_ring := '{}';
        FOREACH o IN ARRAY ring LOOP
          IF n_picked >= max_jobs THEN next_ring := next_ring || o; CONTINUE; END IF;
          IF o_running[o] >= user_limit THEN CONTINUE; END IF;
          best := NULL;
          FOR l IN o_lane_first[o]..o_lane_last[o] LOOP
            CONTINUE WHEN l_next[l] > l_last[l];
            CONTINUE WHEN t_limit[l_type[l]] IS NOT NULL AND t_running[l_type[l]] >= t_limit[l_type[l]];
            IF best IS NULL OR c_run[l_next[l]] < c_run[l_next[best]]
              OR (c_run[l_next[l]] = c_run[l_next[best]] AND c_id[l_next[l]] COLLATE "C" < c_id[l_next[best]] COLLATE "C") THEN
              best := l;
            END IF;
          END LOOP;
          CONTINUE WHEN best IS NULL;
          n_picked := n_picked + 1;
          picks[n_picked] := l_next[best];
          l_next[best] := l_next[best] + 1;
          o_running[o] := o_running[o] + 1;
          t_running[l_type[best]] := t_running[l_type[best]] + 1;
          next_ring := next_ring || o;
        END LOOP;
        ring := next_ring;
      END LOOP;
    END IF;
    IF n_picked > 0 THEN
      -- A picked row another transaction holds (a cancel) is passed over rather than waited for.
      WITH picked AS (
        SELECT c_id[p] AS id, ord FROM unnest(picks) WITH ORDINALITY x(p, ord)
      ), taken AS (
        UPDATE jobcast.jobs j SET state = 'running', lease_node = node, lease_expires_at = now_ms + lease_ms, started_at = now_ms,
          cancel_requested_at = NULL, version = j.version + 1
        WHERE j.id IN (SELECT k.id FROM jobcast.jobs k WHERE k.id = ANY(SELECT id FROM picked) AND k.state = 'queued' FOR UPDATE SKIP LOCKED)
        RETURNING j.*
      )
      SELECT array_agg(row_to_json(taken) ORDER BY picked.ord), array_agg(taken.owner ORDER BY picked.ord)
      INTO claimed, claimed_owners FROM taken JOIN picked ON picked.id = taken.id;
      IF claimed IS NOT NULL THEN
        -- Each owner served goes to the back of the ring, in the order of this claim.
        SELECT coalesce(max(s.served), 0) INTO latest FROM jobcast.owner_turns s;
        INSERT INTO jobcast.owner_turns (owner, served)
          SELECT u.owner, latest + max(u.ord) FROM unnest(claimed_owners) WITH ORDINALITY u(owner, ord) GROUP BY u.owner
          ON CONFLICT (owner) DO UPDATE SET served = excluded.served;
        RETURN QUERY SELECT NULL::text[], u.rec, NULL::bigint FROM unnest(claimed) WITH ORDINALITY u(rec, ord) ORDER BY u.ord;
      END IF;
    END IF;
    IF coalesce(array_length(claimed, 1), 0) < max_jobs THEN
      RETURN QUERY SELECT NULL::text[], NULL::json, (SELECT min(j.run_at) FROM jobcast.jobs j WHERE j.state = 'queued' AND j.run_at > now_ms);
    END IF;
  END $$;
  `,
  // 7: each owner's count of queued jobs, kept by a trigger on every change into or out of 'queued'. Admission
  // counted the owner's queued rows under the owner's lock: a start cost O(backlog) and serialized the owner's
  // starts behind it (3000 queued: ~30 ms a start). insert_or_get now reads the count.
  `
  CREATE TABLE jobcast.owner_queued (owner text PRIMARY KEY, n bigint NOT NULL);
  INSERT INTO jobcast.owner_queued (owner, n) SELECT owner, count(*) FROM jobcast.jobs WHERE state = 'queued' GROUP BY owner;
  CREATE FUNCTION jobcast.count_queued() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP <> 'INSERT' THEN
      IF OLD.state = 'queued' AND (TG_OP = 'DELETE' OR NEW.state <> 'queued') THEN
        UPDATE jobcast.owner_queued SET n = n - 1 WHERE owner = OLD.owner;
      END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
      IF NEW.state = 'queued' AND (TG_OP = 'INSERT' OR OLD.state <> 'queued') THEN
        INSERT INTO jobcast.owner_queued AS q (owner, n) VALUES (NEW.owner, 1) ON CONFLICT (owner) DO UPDATE SET n = q.n + 1;
      END IF;
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER jobs_count_queued AFTER INSERT OR DELETE OR UPDATE OF state ON jobcast.jobs
    FOR EACH ROW EXECUTE FUNCTION jobcast.count_queued();
  CREATE OR REPLACE FUNCTION jobcast.insert_or_get(job jobcast.jobs, max_queued bigint, lock_namespace integer)
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
    SELECT coalesce((SELECT q.n FROM jobcast.owner_queued q WHERE q.owner = job.owner), 0) INTO queued;
    IF queued >= max_queued THEN RETURN QUERY SELECT 'queue-full'::text, NULL::json; RETURN; END IF;
    INSERT INTO jobcast.jobs SELECT (job).*;
    RETURN QUERY SELECT 'created'::text, NULL::json;
  END $$;
  `,
  // 8: admission of many starts in one statement (a node's starts that arrive while one is being written, as
  // insert_or_get each): every owner's lock first, in key order (two nodes' batches never wait on each other in a
  // cycle), then each start in turn, seeing the ones before it. Each item: {"job": <row>, "max_queued": n}.
  `
  CREATE FUNCTION jobcast.insert_or_get_many(items json, lock_namespace integer)
  RETURNS TABLE (ord integer, status text, row_json json) LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    item record;
    job jobcast.jobs;
    earlier jobcast.jobs;
    queued bigint;
  BEGIN
    PERFORM pg_advisory_xact_lock(lock_namespace, k.key)
      FROM (SELECT DISTINCT hashtext(x -> 'job' ->> 'owner') AS key FROM json_array_elements(items) x ORDER BY 1) k;
    FOR item IN SELECT x.value AS v, x.ordinality::integer AS i FROM json_array_elements(items) WITH ORDINALITY x LOOP
      job := json_populate_record(NULL::jobcast.jobs, item.v -> 'job');
      ord := item.i;
      row_json := NULL;
      IF job.idempotency_key IS NOT NULL THEN
        SELECT * INTO earlier FROM jobcast.jobs j WHERE j.owner = job.owner AND j.idempotency_key = job.idempotency_key;
        IF FOUND THEN status := 'existing'; row_json := row_to_json(earlier); RETURN NEXT; CONTINUE; END IF;
      END IF;
      SELECT coalesce((SELECT q.n FROM jobcast.owner_queued q WHERE q.owner = job.owner), 0) INTO queued;
      IF queued >= (item.v ->> 'max_queued')::bigint THEN status := 'queue-full'; RETURN NEXT; CONTINUE; END IF;
      INSERT INTO jobcast.jobs SELECT (job).*;
      status := 'created';
      RETURN NEXT;
    END LOOP;
  END $$;
  `,
  // 9: the queued count as two counters, jobs into 'queued' (owner_queued) and out of it (owner_dequeued), so that
  // a claim and an admission of one owner never lock the same row: the claim's decrement waited for the
  // admission's commit (WAL flush included) while it held the cluster-wide claim lock, and the other way round.
  // An admission reads the out-counter without a lock: one not yet committed makes the count higher, never lower,
  // so the `max_queued` bound still holds (the owner's advisory lock orders admissions among themselves).
  `
  CREATE TABLE jobcast.owner_dequeued (owner text PRIMARY KEY, n bigint NOT NULL);
  CREATE OR REPLACE FUNCTION jobcast.count_queued() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP <> 'INSERT' THEN
      IF OLD.state = 'queued' AND (TG_OP = 'DELETE' OR NEW.state <> 'queued') THEN
        INSERT INTO jobcast.owner_dequeued AS d (owner, n) VALUES (OLD.owner, 1) ON CONFLICT (owner) DO UPDATE SET n = d.n + 1;
      END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
      IF NEW.state = 'queued' AND (TG_OP = 'INSERT' OR OLD.state <> 'queued') THEN
        INSERT INTO jobcast.owner_queued AS q (owner, n) VALUES (NEW.owner, 1) ON CONFLICT (owner) DO UPDATE SET n = q.n + 1;
      END IF;
    END IF;
    RETURN NULL;
  END $$;
  CREATE FUNCTION jobcast.queued_of(who text) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT q.n FROM jobcast.owner_queued q WHERE q.owner = who), 0)
      - coalesce((SELECT d.n FROM jobcast.owner_dequeued d WHERE d.owner = who), 0)
  $$;
  CREATE OR REPLACE FUNCTION jobcast.insert_or_get_many(items json, lock_namespace integer)
  RETURNS TABLE (ord integer, status text, row_json json) LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    item record;
    job jobcast.jobs;
    earlier jobcast.jobs;
  BEGIN
    PERFORM pg_advisory_xact_lock(lock_namespace, k.key)
      FROM (SELECT DISTINCT hashtext(x -> 'job' ->> 'owner') AS key FROM json_array_elements(items) x ORDER BY 1) k;
    FOR item IN SELECT x.value AS v, x.ordinality::integer AS i FROM json_array_elements(items) WITH ORDINALITY x LOOP
      job := json_populate_record(NULL::jobcast.jobs, item.v -> 'job');
      ord := item.i;
      row_json := NULL;
      IF job.idempotency_key IS NOT NULL THEN
        SELECT * INTO earlier FROM jobcast.jobs j WHERE j.owner = job.owner AND j.idempotency_key = job.idempotency_key;
        IF FOUND THEN status := 'existing'; row_json := row_to_json(earlier); RETURN NEXT; CONTINUE; END IF;
      END IF;
      IF jobcast.queued_of(job.owner) >= (item.v ->> 'max_queued')::bigint THEN status := 'queue-full'; RETURN NEXT; CONTINUE; END IF;
      INSERT INTO jobcast.jobs SELECT (job).*;
      status := 'created';
      RETURN NEXT;
    END LOOP;
  END $$;
  -- Unused since insert_or_get_many (8), and it read the old count.
  DROP FUNCTION jobcast.insert_or_get(jobcast.jobs, bigint, integer);
  `,
  // 10: events appended by the statement that makes the change they describe, in its commit (a start's `queued`
  // event with its admission): one commit on a start's path instead of two, and no moment when the change is
  // stored but its event is not. append_events is event-writer.ts's append (see there for the order of locks and
  // ids); each item names its `ord`, and the rows come back with it.
  `
  CREATE FUNCTION jobcast.append_events(items json) RETURNS TABLE (ord integer, id bigint, seq bigint) LANGUAGE sql VOLATILE AS $$
    WITH input AS (
      SELECT * FROM json_to_recordset(items) AS x(ord integer, owner text, kind text, job_id text, batch_id text, data text, created_at bigint)
    ), counts AS (
      SELECT i.owner, count(*) AS n FROM input i GROUP BY i.owner
    ), turn AS (
      INSERT INTO jobcast.event_owners AS o (owner, seq) SELECT c.owner, c.n FROM counts c ORDER BY c.owner
      ON CONFLICT (owner) DO UPDATE SET seq = o.seq + excluded.seq RETURNING o.owner, o.seq
    ), numbered AS (
      SELECT i.ord, i.owner, t.seq - c.n + row_number() OVER (PARTITION BY i.owner ORDER BY i.ord) AS seq, i.kind, i.job_id, i.batch_id, i.data, i.created_at
      FROM input i JOIN counts c ON c.owner = i.owner JOIN turn t ON t.owner = i.owner
    ), appended AS (
      INSERT INTO jobcast.events (id, owner, seq, kind, job_id, batch_id, data, created_at)
      SELECT nextval('jobcast.events_id_seq'), s.owner, s.seq, s.kind, s.job_id, s.batch_id, s.data, s.created_at
      FROM (SELECT * FROM numbered ORDER BY ord) s
      RETURNING events.id, events.owner, events.seq
    )
    SELECT n.ord, a.id, a.seq FROM appended a JOIN numbered n ON n.owner = a.owner AND n.seq = a.seq ORDER BY a.id
  $$;
  -- As in 9, and a created start's "event" ({kind, data, created_at}), when it has one, appended in the same commit.
  DROP FUNCTION jobcast.insert_or_get_many(json, integer);
  CREATE FUNCTION jobcast.insert_or_get_many(items json, lock_namespace integer)
  RETURNS TABLE (ord integer, status text, row_json json, event_id bigint, event_seq bigint) LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    item record;
    job jobcast.jobs;
    earlier jobcast.jobs;
    statuses text[] := '{}';
    answers json[] := '{}';
    events json[] := '{}';
  BEGIN
    PERFORM pg_advisory_xact_lock(lock_namespace, k.key)
      FROM (SELECT DISTINCT hashtext(x -> 'job' ->> 'owner') AS key FROM json_array_elements(items) x ORDER BY 1) k;
    FOR item IN SELECT x.value AS v, x.ordinality::integer AS i FROM json_array_elements(items) WITH ORDINALITY x LOOP
      job := json_populate_record(NULL::jobcast.jobs, item.v -> 'job');
      answers[item.i] := NULL;
      IF job.idempotency_key IS NOT NULL THEN
        SELECT * INTO earlier FROM jobcast.jobs j WHERE j.owner = job.owner AND j.idempotency_key = job.idempotency_key;
        IF FOUND THEN statuses[item.i] := 'existing'; answers[item.i] := row_to_json(earlier); CONTINUE; END IF;
      END IF;
      IF jobcast.queued_of(job.owner) >= (item.v ->> 'max_queued')::bigint THEN statuses[item.i] := 'queue-full'; CONTINUE; END IF;
      INSERT INTO jobcast.jobs SELECT (job).*;
      statuses[item.i] := 'created';
      IF json_typeof(item.v -> 'event') = 'object' THEN
        events := events || json_build_object('ord', item.i, 'owner', job.owner, 'kind', item.v -> 'event' ->> 'kind', 'job_id', job.id,
          'batch_id', job.batch_id, 'data', item.v -> 'event' ->> 'data', 'created_at', (item.v -> 'event' ->> 'created_at')::bigint);
      END IF;
    END LOOP;
    RETURN QUERY
      SELECT s.i::integer, s.status, answers[s.i], e.id, e.seq
      FROM unnest(statuses) WITH ORDINALITY s(status, i)
      LEFT JOIN jobcast.append_events(array_to_json(events)) e ON e.ord = s.i
      ORDER BY s.i;
  END $$;
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
