// Writes a profile as three Parquet files: summary (one row), columns (one row per column) and
// sample (the first data rows, each column with its inferred type; past WIDE_SAMPLE_COLUMNS columns
// one row per cell instead, see `sampleFields`).

import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { parquetWriteFile, type ColumnSource, type SchemaElement } from 'hyparquet-writer'
import type { ColumnType } from './infer.ts'
import { classify, parsed, KIND_DATE, KIND_DT } from './infer.ts'
import type { CsvProfile } from './profile.ts'

/** One written output file. */
export interface ParquetOutput { name: string, path: string, bytes: number }

type Cell = string | number | bigint | boolean | Date | null
type Field = [name: string, schema: Omit<SchemaElement, 'name' | 'repetition_type'>, data: Cell[]]

const STRING = { type: 'BYTE_ARRAY', converted_type: 'UTF8' } as const
const INT64 = { type: 'INT64' } as const
const INT32 = { type: 'INT32' } as const
const DOUBLE = { type: 'DOUBLE' } as const
const BOOLEAN = { type: 'BOOLEAN' } as const
const DATE = { type: 'INT32', converted_type: 'DATE' } as const
const TIMESTAMP = { type: 'INT64', converted_type: 'TIMESTAMP_MICROS' } as const

/**
 * Rows per row group. hyparquet-writer's default is 1,000 then 100,000: the same for every table of up to 1,000 rows
 * (a narrow file's), while a 30,000-column file's columns.parquet and its 180,000-row sample were written in a group
 * of 29,000 and one of 100,000, ~20 MB more of the writer's garbage in the worker's heap when the profile is sent.
 */
const ROW_GROUP_ROWS = 1000

function writeTable (filename: string, fields: Field[]): void {
  const schema: SchemaElement[] = [{ name: 'root', num_children: fields.length }]
  const columnData: ColumnSource[] = []
  for (const [name, el, data] of fields) {
    schema.push({ name, ...el, repetition_type: 'OPTIONAL' } as SchemaElement)
    columnData.push({ name, data: data as ColumnSource['data'] })
  }
  parquetWriteFile({ filename, columnData, schema, rowGroupSize: ROW_GROUP_ROWS })
}

const TYPE_SCHEMA: Record<ColumnType, Field[1]> = {
  integer: INT64,
  number: DOUBLE,
  boolean: BOOLEAN,
  date: DATE,
  datetime: TIMESTAMP,
  string: STRING
}

/** Converts one sample cell's text to the value written for a column of type `type`. */
export function sampleValue (text: string | null, type: ColumnType): Cell {
  if (text === null) return null
  switch (type) {
    case 'integer': return BigInt(text)
    case 'number': return Number(text)
    case 'boolean': return text.toLowerCase() === 'true'
    case 'date':
    case 'datetime': {
      const b = Buffer.from(text, 'latin1')
      const k = classify(b, 0, b.length)
      return k === KIND_DATE || k === KIND_DT ? new Date(parsed[1]!) : null
    }
    default: return text
  }
}

/**
 * Widest sample written one Parquet column per CSV column. The writer keeps ~3.5 KB per Parquet column (page
 * buffers, chunk metadata): a 30,000-column sample took ~110 MB to write a 4 MB file.
 */
export const WIDE_SAMPLE_COLUMNS = 1000

/**
 * The sample's Parquet columns: one per CSV column with its inferred type, or for a file wider than
 * WIDE_SAMPLE_COLUMNS the long layout, one row per cell: `row` (1-based data row), `position` (1-based column, as in
 * columns.parquet), `value` (the cell's text, null if empty).
 */
function sampleFields (profile: CsvProfile): Field[] {
  const cs = profile.columnStats
  if (cs.length <= WIDE_SAMPLE_COLUMNS) {
    return cs.map((c, i): Field => [c.name, TYPE_SCHEMA[c.type], profile.sample.map((row) => sampleValue(row[i] ?? null, c.type))])
  }
  const rows: Cell[] = []
  const positions: Cell[] = []
  const values: Cell[] = []
  profile.sample.forEach((row, r) => {
    for (let i = 0; i < cs.length; i++) {
      rows.push(r + 1)
      positions.push(i + 1)
      values.push(row[i] ?? null)
    }
  })
  return [['row', INT32, rows], ['position', INT32, positions], ['value', STRING, values]]
}

/** Writes `summary.parquet`, `columns.parquet` and `sample.parquet` for `profile` into `dir`. */
export async function writeProfileParquet (dir: string, profile: CsvProfile): Promise<ParquetOutput[]> {
  await mkdir(dir, { recursive: true })
  const cs = profile.columnStats
  const files: Array<[string, Field[]]> = [
    ['summary.parquet', [
      ['rows', INT64, [BigInt(profile.rows)]],
      ['columns', INT32, [profile.columns]],
      ['bytes', INT64, [BigInt(profile.bytes)]],
      ['malformed_rows', INT64, [BigInt(profile.malformedRows)]],
      ['malformed_lines', STRING, [JSON.stringify(profile.malformedLines)]],
      ['duration_ms', DOUBLE, [profile.durationMs]],
      ['delimiter', STRING, [profile.delimiter]],
      ['encoding', STRING, [profile.encoding]],
      ['header', STRING, [JSON.stringify(profile.header)]]
    ]],
    ['columns.parquet', [
      ['position', INT32, cs.map((_, i) => i + 1)],
      ['name', STRING, cs.map((c) => c.name)],
      ['type', STRING, cs.map((c) => c.type)],
      ['count', INT64, cs.map((c) => BigInt(c.count))],
      ['nulls', INT64, cs.map((c) => BigInt(c.nulls))],
      ['distinct', INT64, cs.map((c) => BigInt(c.distinct))],
      ['distinct_is_estimate', BOOLEAN, cs.map((c) => c.distinctIsEstimate)],
      ['min', STRING, cs.map((c) => c.min)],
      ['max', STRING, cs.map((c) => c.max)],
      ['mean', DOUBLE, cs.map((c) => c.mean)],
      ['stddev', DOUBLE, cs.map((c) => c.stddev)],
      ['min_length', INT32, cs.map((c) => c.minLength)],
      ['max_length', INT32, cs.map((c) => c.maxLength)],
      ['top_values', STRING, cs.map((c) => JSON.stringify(c.topValues))],
      ['top_values_is_estimate', BOOLEAN, cs.map((c) => c.topValuesIsEstimate)]
    ]],
    ['sample.parquet', sampleFields(profile)]
  ]
  const out: ParquetOutput[] = []
  for (const [name, fields] of files) {
    const path = join(dir, name)
    writeTable(path, fields)
    out.push({ name, path, bytes: (await stat(path)).size })
  }
  return out
}
