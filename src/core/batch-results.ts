// A batch's per-file rows (for the CSV and JSON Lines exports) and its batch-level result.

import { summarizeCfdi, type CfdiEntry, type CfdiFields } from '../documents/index.ts'
import type { JobRecord } from './model.ts'

/** One file of a batch as an export row: fixed columns, then the type's result fields flattened one level. */
export type ResultRow = Record<string, string | number | boolean | null>

/** The columns every row starts with. */
export const FIXED_COLUMNS = ['index', 'file', 'state', 'error_code', 'error_message'] as const

/** The rows of a batch's children, in file order (`children` sorted by id, which is creation order). */
export function resultRows (children: JobRecord[]): ResultRow[] {
  return children.map((job, index) => {
    const row: ResultRow = {
      index,
      file: job.files[0]?.name ?? null,
      state: job.state,
      error_code: job.error?.code ?? null,
      error_message: job.error?.message ?? null
    }
    if (job.state === 'completed') flatten(job.result, '', row)
    return row
  })
}

/** Every column of `rows`: the fixed ones, then the others in the order they first appear. */
export function columnsOf (rows: ResultRow[]): string[] {
  const columns = new Set<string>(FIXED_COLUMNS)
  for (const row of rows) for (const key of Object.keys(row)) columns.add(key)
  return [...columns]
}

// Objects one level deep become `parent.child` columns; arrays and deeper objects are JSON text.
function flatten (value: unknown, prefix: string, row: ResultRow): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    if (prefix !== '') row[prefix] = scalar(value)
    else if (value !== null && value !== undefined) row.result = scalar(value)
    return
  }
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    const name = prefix === '' ? key : `${prefix}.${key}`
    if (prefix === '' && inner !== null && typeof inner === 'object' && !Array.isArray(inner)) flatten(inner, name, row)
    else row[name] = scalar(inner)
  }
}

function scalar (value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value
  return JSON.stringify(value)
}

/** One CSV line (RFC 4180 quoting; a leading =, +, - or @ is prefixed with ' so spreadsheets do not run it). */
export function csvLine (values: unknown[]): string {
  return values.map((v) => {
    if (v === null || v === undefined) return ''
    let text = String(v)
    if (typeof v === 'string' && /^[=+\-@]/.test(text)) text = `'${text}`
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
  }).join(',') + '\r\n'
}

/** What a batch's children add up to: for CFDI invoices, duplicate UUIDs and totals by emisor RFC and currency. */
export function batchResult (children: JobRecord[]): unknown {
  const entries: CfdiEntry[] = []
  children.forEach((job, index) => {
    const cfdi = (job.state === 'completed' ? (job.result as { cfdi?: CfdiFields } | null)?.cfdi : undefined)
    if (cfdi != null) entries.push({ index, name: job.files[0]?.name ?? '', cfdi })
  })
  return entries.length === 0 ? null : { cfdi: summarizeCfdi(entries) }
}
