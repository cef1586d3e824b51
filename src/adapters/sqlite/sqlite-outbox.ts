import type { Statement } from 'better-sqlite3'
import { deliveryId, type DeliveryRecord, type DeliveryState, type NotifyTargets, type StoredAttempt, type SubjectKind } from '../../core/batch-model.ts'
import { idFloor } from '../../lib/ids.ts'
import { generateWebhookSecret } from '../../notify/signature.ts'
import type { Db } from './database.ts'
import type { Row } from './job-row.ts'

/**
 * The notification outbox on SQLite: targets, deliveries, webhook secrets. The `enqueue…` methods run inside the
 * job store's commits (synchronous, no commit of their own); the others are the NotificationStore methods.
 */
export class SqliteOutbox {
  readonly #db: Db
  readonly #s: Record<'setNotify' | 'targets' | 'enqueue' | 'bySubject' | 'due' | 'lease' | 'nextAt' | 'byId' | 'record' | 'secret' | 'putSecret' | 'rotate' | 'defaults' | 'putDefaults' | 'clearDefaults' | 'forgetTargets' | 'forgetDeliveries' | 'unusedTargets', Statement>

  constructor (db: Db) {
    this.#db = db
    this.#s = {
      setNotify: db.prepare('INSERT INTO notify_targets (subject_id, owner, webhook, email) VALUES (?, ?, ?, ?) ON CONFLICT (subject_id) DO UPDATE SET webhook = excluded.webhook, email = excluded.email'),
      targets: db.prepare('SELECT owner, webhook, email FROM notify_targets WHERE subject_id = ?'),
      // OR IGNORE: the id is deterministic, so writing the same notification twice keeps one.
      enqueue: db.prepare("INSERT OR IGNORE INTO deliveries (id, owner, subject_kind, subject_id, channel, target, state, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)"),
      bySubject: db.prepare('SELECT * FROM deliveries WHERE subject_id = ? ORDER BY created_at, id'),
      due: db.prepare("SELECT * FROM deliveries WHERE state = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?"),
      lease: db.prepare('UPDATE deliveries SET next_at = ? WHERE id = ?'),
      nextAt: db.prepare("SELECT min(next_at) AS at FROM deliveries WHERE state = 'pending'"),
      byId: db.prepare('SELECT attempts FROM deliveries WHERE id = ?'),
      record: db.prepare('UPDATE deliveries SET attempts = ?, state = ?, next_at = ? WHERE id = ?'),
      secret: db.prepare('SELECT secret FROM webhook_secrets WHERE owner = ?'),
      putSecret: db.prepare('INSERT OR IGNORE INTO webhook_secrets (owner, secret, created_at) VALUES (?, ?, ?)'),
      rotate: db.prepare('INSERT INTO webhook_secrets (owner, secret, created_at) VALUES (?, ?, ?) ON CONFLICT (owner) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at'),
      defaults: db.prepare('SELECT webhook, email FROM notify_defaults WHERE owner = ?'),
      putDefaults: db.prepare('INSERT INTO notify_defaults (owner, webhook, email, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (owner) DO UPDATE SET webhook = excluded.webhook, email = excluded.email, updated_at = excluded.updated_at'),
      clearDefaults: db.prepare('DELETE FROM notify_defaults WHERE owner = ?'),
      forgetTargets: db.prepare('DELETE FROM notify_targets WHERE subject_id = ?'),
      forgetDeliveries: db.prepare('DELETE FROM deliveries WHERE subject_id = ?'),
      // Ids sort by creation time: a target older than `?` whose job was never inserted belongs to a refused start.
      unusedTargets: db.prepare('DELETE FROM notify_targets WHERE subject_id < ? AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = notify_targets.subject_id)')
    }
  }

  /** Inside a commit: the deliveries of a job that just became terminal, from its targets. */
  enqueueForJob (jobId: string, at: number): void {
    const row = this.#s.targets.get(jobId) as Row | undefined
    if (row === undefined) return
    this.enqueue('job', jobId, row.owner as string, { webhook: row.webhook as string | undefined ?? undefined, email: row.email as string | undefined ?? undefined }, at)
  }

  /** Inside a commit: one pending delivery per target, due at once. */
  enqueue (kind: SubjectKind, subjectId: string, owner: string, targets: NotifyTargets, at: number): void {
    if (typeof targets.webhook === 'string') this.#s.enqueue.run(deliveryId(subjectId, 'webhook'), owner, kind, subjectId, 'webhook', targets.webhook, at, at)
    if (typeof targets.email === 'string') this.#s.enqueue.run(deliveryId(subjectId, 'email'), owner, kind, subjectId, 'email', targets.email, at, at)
  }

  setNotify (subjectId: string, owner: string, targets: NotifyTargets): void {
    this.#s.setNotify.run(subjectId, owner, targets.webhook ?? null, targets.email ?? null)
  }

  deliveries (subjectId: string): DeliveryRecord[] {
    return (this.#s.bySubject.all(subjectId) as Row[]).map(toDelivery)
  }

  takeDue (now: number, limit: number, leaseMs: number): DeliveryRecord[] {
    return this.#db.transaction(() => {
      const rows = (this.#s.due.all(now, limit) as Row[]).map(toDelivery)
      for (const row of rows) this.#s.lease.run(now + leaseMs, row.id)
      return rows
    })()
  }

  nextAt (): number | undefined {
    return (this.#s.nextAt.get() as { at: number | null }).at ?? undefined
  }

  record (id: string, attempt: StoredAttempt, next: { state: DeliveryState, nextAt: number | null }): void {
    this.#db.transaction(() => {
      const row = this.#s.byId.get(id) as { attempts: string } | undefined
      if (row === undefined) return
      const attempts = [...JSON.parse(row.attempts) as StoredAttempt[], attempt]
      this.#s.record.run(JSON.stringify(attempts), next.state, next.state === 'pending' ? next.nextAt : null, id)
    })()
  }

  /** Inside a commit: the targets and deliveries of a deleted job or batch. */
  forget (subjectId: string): void {
    this.#s.forgetTargets.run(subjectId)
    this.#s.forgetDeliveries.run(subjectId)
  }

  deleteUnusedTargets (time: number): number {
    return this.#s.unusedTargets.run(idFloor(time)).changes
  }

  notifyDefaults (owner: string): NotifyTargets | null {
    const row = this.#s.defaults.get(owner) as { webhook: string | null, email: string | null } | undefined
    return row === undefined ? null : targetsOf(row)
  }

  setNotifyDefaults (owner: string, targets: NotifyTargets | null): void {
    if (targets === null || (targets.webhook === undefined && targets.email === undefined)) this.#s.clearDefaults.run(owner)
    else this.#s.putDefaults.run(owner, targets.webhook ?? null, targets.email ?? null, Date.now())
  }

  webhookSecret (owner: string): string {
    this.#s.putSecret.run(owner, generateWebhookSecret(), Date.now())
    return (this.#s.secret.get(owner) as { secret: string }).secret
  }

  rotateWebhookSecret (owner: string): string {
    const secret = generateWebhookSecret()
    this.#s.rotate.run(owner, secret, Date.now())
    return secret
  }
}

// A targets row as NotifyTargets: only the channels it has.
function targetsOf (row: { webhook: string | null, email: string | null }): NotifyTargets {
  return { ...(row.webhook === null ? {} : { webhook: row.webhook }), ...(row.email === null ? {} : { email: row.email }) }
}

function toDelivery (row: Row): DeliveryRecord {
  return {
    id: row.id as string,
    owner: row.owner as string,
    subjectKind: row.subject_kind as SubjectKind,
    subjectId: row.subject_id as string,
    channel: row.channel as DeliveryRecord['channel'],
    target: row.target as string,
    state: row.state as DeliveryState,
    attempts: JSON.parse(row.attempts as string) as StoredAttempt[],
    nextAt: row.next_at as number | null,
    createdAt: row.created_at as number
  }
}
