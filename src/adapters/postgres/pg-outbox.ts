import type pg from 'pg'
import { deliveryId, type DeliveryRecord, type DeliveryState, type NotifyTargets, type StoredAttempt, type SubjectKind } from '../../core/batch-model.ts'
import { idFloor } from '../../lib/ids.ts'
import { generateWebhookSecret } from '../../notify/signature.ts'
import { NodeCache } from './node-cache.ts'

/** What runs a query: the pool, or a transaction's client. */
export type Queryable = Pick<pg.Pool, 'query'>

/** The job store's query function (error tracking and the closed check included). */
export type Query = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>

/** Inside a transaction: one pending delivery per target, due at once (a replayed write adds nothing). */
export async function enqueueDeliveries (client: Queryable, kind: SubjectKind, subjectId: string, owner: string, targets: NotifyTargets, at: number): Promise<void> {
  for (const channel of ['webhook', 'email'] as const) {
    const target = targets[channel]
    if (typeof target !== 'string') continue
    await client.query(`INSERT INTO jobcast.deliveries (id, owner, subject_kind, subject_id, channel, target, state, next_at, created_at)
      VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7) ON CONFLICT (id) DO NOTHING`, [deliveryId(subjectId, channel), owner, kind, subjectId, channel, target, at])
  }
}

/** Inside a transaction: the deliveries of a job that just became terminal, from its targets. */
export async function enqueueForJob (client: Queryable, jobId: string, at: number): Promise<void> {
  const { rows } = await client.query<{ owner: string, webhook: string | null, email: string | null }>('SELECT owner, webhook, email FROM jobcast.notify_targets WHERE subject_id = $1', [jobId])
  const row = rows[0]
  if (row !== undefined) await enqueueDeliveries(client, 'job', jobId, row.owner, { webhook: row.webhook ?? undefined, email: row.email ?? undefined }, at)
}

// Owners whose notify defaults a node keeps (read by every start without `notify`), and for how long (a change
// resolves only once that has passed).
const CACHED_DEFAULTS = 10_000
const DEFAULTS_TTL_MS = 1000

/**
 * The NotificationStore methods on PostgreSQL (the job store delegates to these). Each node keeps the owners'
 * notify defaults it has read for a second, and a change of them resolves only once every node's copy has
 * expired (node-cache.ts), as PgUserStore keeps tokens.
 */
export class PgOutbox {
  readonly #query: Query
  readonly #defaults = new NodeCache<NotifyTargets | null>({ max: CACHED_DEFAULTS, ttlMs: DEFAULTS_TTL_MS })

  constructor (query: Query) {
    this.#query = query
  }

  async setNotify (subjectId: string, owner: string, targets: NotifyTargets): Promise<void> {
    await this.#query(`INSERT INTO jobcast.notify_targets (subject_id, owner, webhook, email) VALUES ($1, $2, $3, $4)
      ON CONFLICT (subject_id) DO UPDATE SET webhook = excluded.webhook, email = excluded.email`, [subjectId, owner, targets.webhook ?? null, targets.email ?? null])
  }

  async deliveries (subjectId: string): Promise<DeliveryRecord[]> {
    const { rows } = await this.#query('SELECT * FROM jobcast.deliveries WHERE subject_id = $1 ORDER BY created_at, id', [subjectId])
    return rows.map(toDelivery)
  }

  async takeDue (now: number, limit: number, leaseMs: number): Promise<DeliveryRecord[]> {
    // SKIP LOCKED: two nodes taking at once get different rows.
    const { rows } = await this.#query(`UPDATE jobcast.deliveries SET next_at = $2 WHERE id IN (
      SELECT id FROM jobcast.deliveries WHERE state = 'pending' AND next_at <= $1 ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING *`, [now, now + leaseMs, limit])
    return rows.map(toDelivery)
  }

  async nextAt (): Promise<number | undefined> {
    const { rows } = await this.#query<{ at: number | null }>("SELECT min(next_at) AS at FROM jobcast.deliveries WHERE state = 'pending'")
    return rows[0]?.at ?? undefined
  }

  async record (id: string, attempt: StoredAttempt, next: { state: DeliveryState, nextAt: number | null }): Promise<void> {
    await this.#query('UPDATE jobcast.deliveries SET attempts = attempts || jsonb_build_array($2::jsonb), state = $3, next_at = $4 WHERE id = $1',
      [id, JSON.stringify(attempt), next.state, next.state === 'pending' ? next.nextAt : null])
  }

  async webhookSecret (owner: string): Promise<string> {
    await this.#query('INSERT INTO jobcast.webhook_secrets (owner, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (owner) DO NOTHING', [owner, generateWebhookSecret(), Date.now()])
    const { rows } = await this.#query<{ secret: string }>('SELECT secret FROM jobcast.webhook_secrets WHERE owner = $1', [owner])
    return rows[0]!.secret
  }

  async notifyDefaults (owner: string): Promise<NotifyTargets | null> {
    return await this.#defaults.get(owner, async () => {
      const { rows } = await this.#query<{ webhook: string | null, email: string | null }>('SELECT webhook, email FROM jobcast.notify_defaults WHERE owner = $1', [owner])
      const row = rows[0]
      if (row === undefined) return null
      return { ...(row.webhook === null ? {} : { webhook: row.webhook }), ...(row.email === null ? {} : { email: row.email }) }
    })
  }

  async setNotifyDefaults (owner: string, targets: NotifyTargets | null): Promise<void> {
    const forget = (key: string): boolean => key === owner
    // This node's copy before (a read meanwhile is not kept) and after the commit; then the other nodes' copies' life.
    this.#defaults.drop(forget)
    try {
      if (targets === null || (targets.webhook === undefined && targets.email === undefined)) {
        await this.#query('DELETE FROM jobcast.notify_defaults WHERE owner = $1', [owner])
        return
      }
      await this.#query(`INSERT INTO jobcast.notify_defaults (owner, webhook, email, updated_at) VALUES ($1, $2, $3, $4)
        ON CONFLICT (owner) DO UPDATE SET webhook = excluded.webhook, email = excluded.email, updated_at = excluded.updated_at`, [owner, targets.webhook ?? null, targets.email ?? null, Date.now()])
    } finally {
      this.#defaults.drop(forget)
      await this.#defaults.settled()
    }
  }

  async deleteUnusedTargets (time: number): Promise<number> {
    // Ids sort by creation time: a target older than `time` whose job was never inserted belongs to a refused start.
    const { rowCount } = await this.#query(`DELETE FROM jobcast.notify_targets t WHERE t.subject_id < $1
      AND NOT EXISTS (SELECT 1 FROM jobcast.jobs j WHERE j.id = t.subject_id)`, [idFloor(time)])
    return rowCount ?? 0
  }

  async rotateWebhookSecret (owner: string): Promise<string> {
    const secret = generateWebhookSecret()
    await this.#query(`INSERT INTO jobcast.webhook_secrets (owner, secret, created_at) VALUES ($1, $2, $3)
      ON CONFLICT (owner) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at`, [owner, secret, Date.now()])
    return secret
  }
}

/** Inside a transaction: the targets and deliveries of deleted jobs or batches. */
export async function forgetSubjects (client: Queryable, ids: string[]): Promise<void> {
  await client.query('DELETE FROM jobcast.notify_targets WHERE subject_id = ANY($1)', [ids])
  await client.query('DELETE FROM jobcast.deliveries WHERE subject_id = ANY($1)', [ids])
}

function toDelivery (row: pg.QueryResultRow): DeliveryRecord {
  return {
    id: row.id,
    owner: row.owner,
    subjectKind: row.subject_kind,
    subjectId: row.subject_id,
    channel: row.channel,
    target: row.target,
    state: row.state,
    attempts: row.attempts,
    nextAt: row.next_at,
    createdAt: row.created_at
  }
}
