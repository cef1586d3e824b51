import type { ArtifactRecord, JobPatch, JobRecord } from '../../core/model.ts'

/** A row of jobcast.jobs as pg returns it (json columns parsed, int8 as numbers). */
export type JobRow = Record<string, unknown>

type Field = keyof Omit<JobRecord, 'id' | 'version' | 'lease' | 'cancelRequested'>

// How each record field is stored: its column, its SQL type, and whether it is JSON (written as text, parsed back by pg).
const COLUMNS: Record<Field, { column: string, sql: string, json: boolean }> = {
  type: { column: 'type', sql: 'text', json: false },
  owner: { column: 'owner', sql: 'text', json: false },
  state: { column: 'state', sql: 'text', json: false },
  input: { column: 'input', sql: 'json', json: true },
  progress: { column: 'progress', sql: 'json', json: true },
  result: { column: 'result', sql: 'json', json: true },
  error: { column: 'error', sql: 'json', json: true },
  preview: { column: 'preview', sql: 'json', json: true },
  files: { column: 'files', sql: 'json', json: true },
  checkpoint: { column: 'checkpoint', sql: 'json', json: true },
  attempt: { column: 'attempt', sql: 'integer', json: false },
  maxAttempts: { column: 'max_attempts', sql: 'integer', json: false },
  createdAt: { column: 'created_at', sql: 'bigint', json: false },
  startedAt: { column: 'started_at', sql: 'bigint', json: false },
  finishedAt: { column: 'finished_at', sql: 'bigint', json: false },
  runAt: { column: 'run_at', sql: 'bigint', json: false },
  batchId: { column: 'batch_id', sql: 'text', json: false },
  idempotencyKey: { column: 'idempotency_key', sql: 'text', json: false },
  requestHash: { column: 'request_hash', sql: 'text', json: false }
}
const FIELDS = Object.keys(COLUMNS) as Field[]

// What a list does not read: a page of a hundred jobs with 1 MB inputs read 100 MB for views that show none of it.
const UNLISTED: ReadonlySet<Field> = new Set(['input', 'preview', 'checkpoint'])

/** The select list of `JobStore.list` and `recent`: every column, the input, preview and checkpoint read as null. */
export const LIST_COLUMNS = ['id', 'version', 'lease_node', 'lease_expires_at', 'cancel_requested_at',
  ...FIELDS.map((field) => UNLISTED.has(field) ? `NULL AS ${COLUMNS[field].column}` : COLUMNS[field].column)].join(', ')

// `json`, not `jsonb`: the text comes back as it was written (key order kept), and nothing queries inside it.
function toColumn (field: Field, value: unknown): unknown {
  if (!COLUMNS[field].json) return value ?? null
  return value === undefined || value === null ? null : JSON.stringify(value)
}

/** `job` as one JSON object keyed by column (JSON fields as values, not text): for `json_populate_record`. */
export function jobRowJson (job: JobRecord): string {
  const row: Record<string, unknown> = { id: job.id, lease_node: job.lease?.node ?? null, lease_expires_at: job.lease?.expiresAt ?? null, version: job.version }
  for (const field of FIELDS) row[COLUMNS[field].column] = job[field] ?? null
  return JSON.stringify(row)
}

/**
 * `SET` assignments (from placeholder `$first` on) and their values for `patch`. A key whose value is undefined
 * is left alone, as if absent; null clears.
 */
export function patchAssignments (patch: JobPatch, first: number): { sets: string[], values: unknown[] } {
  const sets: string[] = []
  const values: unknown[] = []
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue
    if (key === 'lease') {
      const lease = value as JobRecord['lease']
      sets.push(`lease_node = $${first + values.length}`)
      values.push(lease?.node ?? null)
      sets.push(`lease_expires_at = $${first + values.length}`)
      values.push(lease?.expiresAt ?? null)
      continue
    }
    const spec = COLUMNS[key as Field]
    // id, owner, type, createdAt and version are not patchable (the type says so; a cast must not get around it).
    if (spec === undefined || key === 'owner' || key === 'type' || key === 'createdAt') continue
    sets.push(`${spec.column} = $${first + values.length}`)
    values.push(toColumn(key as Field, value))
  }
  return { sets, values }
}

/**
 * `patch` as one row of a JSON recordset keyed by column (JSON fields as values, not text), and the columns with
 * their SQL types (`column type`, for `json_to_recordset`), in a stable order: patches that set the same fields
 * have the same columns. Undefined leaves a field alone, null clears it, as in {@link patchAssignments}.
 */
export function patchRow (patch: JobPatch): { columns: string[], row: Record<string, unknown> } {
  const columns: string[] = []
  const row: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(patch).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    if (value === undefined) continue
    if (key === 'lease') {
      const lease = value as JobRecord['lease']
      columns.push('lease_node text', 'lease_expires_at bigint')
      row.lease_node = lease?.node ?? null
      row.lease_expires_at = lease?.expiresAt ?? null
      continue
    }
    const spec = COLUMNS[key as Field]
    if (spec === undefined || key === 'owner' || key === 'type' || key === 'createdAt') continue
    columns.push(`${spec.column} ${spec.sql}`)
    row[spec.column] = value ?? null
  }
  return { columns, row }
}

/** The record a row holds. */
export function toRecord (row: JobRow): JobRecord {
  return {
    id: row.id as string,
    type: row.type as string,
    owner: row.owner as string,
    state: row.state as JobRecord['state'],
    input: row.input ?? null,
    progress: (row.progress ?? null) as JobRecord['progress'],
    result: row.result ?? null,
    error: (row.error ?? null) as JobRecord['error'],
    preview: row.preview ?? null,
    files: (row.files ?? []) as JobRecord['files'],
    checkpoint: row.checkpoint ?? null,
    attempt: row.attempt as number,
    maxAttempts: row.max_attempts as number,
    createdAt: row.created_at as number,
    startedAt: row.started_at as number | null,
    finishedAt: row.finished_at as number | null,
    runAt: row.run_at as number,
    batchId: row.batch_id as string | null,
    idempotencyKey: row.idempotency_key as string | null,
    requestHash: row.request_hash as string | null,
    lease: row.lease_node === null ? null : { node: row.lease_node as string, expiresAt: row.lease_expires_at as number },
    version: row.version as number,
    // Only when set: a cancel recorded on a running job (the column stays with the row until the next claim clears it).
    ...(row.cancel_requested_at === null || row.cancel_requested_at === undefined ? {} : { cancelRequested: true })
  }
}

/** The artifact a row of jobcast.artifacts holds. */
export function toArtifact (row: JobRow): ArtifactRecord {
  return {
    jobId: row.job_id as string,
    name: row.name as string,
    size: row.size as number,
    contentType: row.content_type as string,
    createdAt: row.created_at as number
  }
}
