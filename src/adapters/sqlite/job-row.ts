import type { JobPatch, JobRecord } from '../../core/model.ts'

/** A row as better-sqlite3 returns it. */
export type Row = Record<string, unknown>

/** The record fields stored in columns (all but id and version; a cancel request is kept in memory, see the store). */
export type Field = keyof Omit<JobRecord, 'id' | 'version' | 'cancelRequested'>

// How each field is stored: its columns, and whether the value is JSON text. `lease` takes two columns.
const JSON_FIELDS: ReadonlySet<Field> = new Set(['input', 'progress', 'result', 'error', 'preview', 'files', 'checkpoint'])

/** The columns of each field, in insert order. */
export const COLUMN_FIELDS: Record<Field, string[]> = {
  type: ['type'],
  owner: ['owner'],
  state: ['state'],
  input: ['input'],
  progress: ['progress'],
  result: ['result'],
  error: ['error'],
  preview: ['preview'],
  files: ['files'],
  checkpoint: ['checkpoint'],
  attempt: ['attempt'],
  maxAttempts: ['max_attempts'],
  createdAt: ['created_at'],
  startedAt: ['started_at'],
  finishedAt: ['finished_at'],
  runAt: ['run_at'],
  batchId: ['batch_id'],
  idempotencyKey: ['idempotency_key'],
  requestHash: ['request_hash'],
  lease: ['lease_node', 'lease_expires_at']
}

/** Every stored field, in insert order. */
export const FIELDS = Object.keys(COLUMN_FIELDS) as Field[]

// What a list does not read: a page of a hundred jobs with 1 MB inputs read 100 MB for views that show none of it.
const UNLISTED: ReadonlySet<Field> = new Set(['input', 'preview', 'checkpoint'])

/** The select list of `JobStore.list` and `recent`: every column, the input, preview and checkpoint read as null. */
export const LIST_COLUMNS = ['id', 'version', ...FIELDS.flatMap((field) => UNLISTED.has(field) ? [`NULL AS ${COLUMN_FIELDS[field][0]!}`] : COLUMN_FIELDS[field])].join(', ')

/** The `[column, value]` pairs of the fields present in `patch`, serialized now (the caller may change its objects later). */
export function toColumns (patch: JobPatch | JobRecord): Array<[string, unknown]> {
  const pairs: Array<[string, unknown]> = []
  for (const field of Object.keys(patch) as Field[]) {
    const columns = COLUMN_FIELDS[field]
    if (columns === undefined) continue
    const value = (patch as Record<string, unknown>)[field]
    if (field === 'lease') {
      const lease = value as JobRecord['lease']
      pairs.push(['lease_node', lease?.node ?? null], ['lease_expires_at', lease?.expiresAt ?? null])
    } else if (JSON_FIELDS.has(field)) {
      pairs.push([columns[0]!, value === undefined || value === null ? null : JSON.stringify(value)])
    } else {
      pairs.push([columns[0]!, value ?? null])
    }
  }
  return pairs
}

/** The values of an insert: id, every field's columns in {@link FIELDS} order, version. */
export function insertValues (job: JobRecord): unknown[] {
  const byColumn = new Map(toColumns(job))
  return [job.id, ...FIELDS.flatMap((f) => COLUMN_FIELDS[f].map((c) => byColumn.get(c) ?? null)), job.version]
}

// A column that does not parse (a damaged row) reads as null rather than failing every read of the job.
function parse (text: unknown): unknown {
  if (typeof text !== 'string') return null
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

/**
 * The record of a row. The checkpoint is parsed on first access: it can be megabytes (a CSV profile's partial
 * statistics), and the views a poller reads every few ms never look at it.
 */
export function toRecord (row: Row): JobRecord {
  const record = toRecordWithout(row)
  let checkpoint: unknown
  let parsed = false
  Object.defineProperty(record, 'checkpoint', {
    enumerable: true,
    configurable: true,
    get: () => {
      if (!parsed) {
        checkpoint = parse(row.checkpoint)
        parsed = true
      }
      return checkpoint
    },
    set: (value: unknown) => {
      checkpoint = value
      parsed = true
    }
  })
  return record
}

function toRecordWithout (row: Row): JobRecord {
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
    checkpoint: null,
    attempt: row.attempt as number,
    maxAttempts: row.max_attempts as number,
    createdAt: row.created_at as number,
    startedAt: row.started_at as number | null,
    finishedAt: row.finished_at as number | null,
    runAt: row.run_at as number,
    batchId: row.batch_id as string | null,
    idempotencyKey: row.idempotency_key as string | null,
    requestHash: row.request_hash as string | null,
    lease: row.lease_node === null || row.lease_node === undefined ? null : { node: row.lease_node as string, expiresAt: row.lease_expires_at as number },
    version: row.version as number
  }
}
