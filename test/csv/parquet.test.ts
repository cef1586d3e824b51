import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { test } from 'tap'
import { profileCsv, sniffCsv, writeProfileParquet } from '../../src/csv/index.ts'
import { WIDE_SAMPLE_COLUMNS } from '../../src/csv/parquet.ts'
import { genTable, toCsv } from './helpers.ts'

test('Parquet outputs read back with DuckDB with the right rows and types', async (t) => {
  const dir = t.testdir()
  const { header, rows } = genTable({ rows: 1500, seed: 9 })
  const path = join(dir, 'd.csv')
  writeFileSync(path, toCsv(header, rows))
  const prof = await profileCsv(path, await sniffCsv(path))
  const files = await writeProfileParquet(join(dir, 'out'), prof)
  t.same(files.map((f) => f.name), ['summary.parquet', 'columns.parquet', 'sample.parquet'])
  t.ok(files.every((f) => f.bytes > 0))
  const at = (name: string): string => `'${join(dir, 'out', name)}'`

  const db = await DuckDBInstance.create(':memory:')
  const con = await db.connect()
  t.teardown(() => { con.closeSync(); db.closeSync() })
  const all = async (sql: string): Promise<Array<Record<string, unknown>>> => (await con.runAndReadAll(sql)).getRowObjectsJS()
  const types = async (name: string): Promise<Record<string, unknown>> =>
    Object.fromEntries((await all(`DESCRIBE SELECT * FROM ${at(name)}`)).map((r) => [r.column_name, r.column_type]))

  t.same(await types('sample.parquet'), {
    id: 'BIGINT', amount: 'DOUBLE', flag: 'BOOLEAN', day: 'DATE', ts: 'TIMESTAMP', city: 'VARCHAR',
    mixed: 'VARCHAR', code: 'VARCHAR', empty: 'VARCHAR', qty: 'BIGINT'
  })
  const sample = await all(`SELECT id::VARCHAR AS id, amount, flag, day::VARCHAR AS day, strftime(ts, '%Y-%m-%dT%H:%M:%S.%g') AS ts, city, empty FROM ${at('sample.parquet')}`)
  t.equal(sample.length, 1000)
  for (const [i, r] of sample.entries()) {
    const src = rows[i]!
    const ok = r.id === src[0] &&
      r.amount === (src[1] === '' ? null : Number(src[1])) &&
      r.flag === (src[2] === '' ? null : src[2]!.toLowerCase() === 'true') &&
      r.day === (src[3] === '' ? null : src[3]) &&
      r.city === (src[5] === '' ? null : src[5]) &&
      r.empty === null
    if (!ok) { t.fail(`sample row ${i}: ${JSON.stringify(r)} vs ${JSON.stringify(src)}`); break }
  }
  // Datetimes keep their instant: 2001-02-03 04:05:06+02:00 is 02:05:06 UTC.
  const firstTs = rows.findIndex((r) => r[4]!.endsWith('+02:00'))
  const expected = new Date(Date.parse(rows[firstTs]![4]!.replace(' ', 'T'))).toISOString().slice(0, 23)
  t.equal(sample[firstTs]!.ts, expected)

  t.same(await types('columns.parquet'), {
    position: 'INTEGER', name: 'VARCHAR', type: 'VARCHAR', count: 'BIGINT', nulls: 'BIGINT', distinct: 'BIGINT',
    distinct_is_estimate: 'BOOLEAN', min: 'VARCHAR', max: 'VARCHAR', mean: 'DOUBLE', stddev: 'DOUBLE',
    min_length: 'INTEGER', max_length: 'INTEGER', top_values: 'VARCHAR', top_values_is_estimate: 'BOOLEAN'
  })
  const cols = await all(`SELECT * FROM ${at('columns.parquet')} ORDER BY position`)
  t.equal(cols.length, 10)
  for (const [i, c] of prof.columnStats.entries()) {
    t.same(cols[i], {
      position: i + 1,
      name: c.name,
      type: c.type,
      count: BigInt(c.count),
      nulls: BigInt(c.nulls),
      distinct: BigInt(c.distinct),
      distinct_is_estimate: c.distinctIsEstimate,
      min: c.min,
      max: c.max,
      mean: c.mean,
      stddev: c.stddev,
      min_length: c.minLength,
      max_length: c.maxLength,
      top_values: JSON.stringify(c.topValues),
      top_values_is_estimate: c.topValuesIsEstimate
    }, `column ${c.name}`)
  }

  const [summary] = await all(`SELECT * FROM ${at('summary.parquet')}`)
  t.match(summary, { rows: 1500n, columns: 10, bytes: BigInt(prof.bytes), malformed_rows: 0n, delimiter: ',', encoding: 'utf-8' })
  t.equal(summary!.duration_ms, prof.durationMs)
})

test('a sample wider than WIDE_SAMPLE_COLUMNS is written one row per cell (row, position, value)', async (t) => {
  const dir = t.testdir()
  const columns = WIDE_SAMPLE_COLUMNS + 1
  const header = Array.from({ length: columns }, (_, i) => `c${i}`)
  const rows = [0, 1, 2].map((r) => header.map((_, i) => i === 5 && r === 1 ? '' : String(r * 10 + i)))
  const path = join(dir, 'wide.csv')
  writeFileSync(path, toCsv(header, rows))
  const prof = await profileCsv(path, await sniffCsv(path))
  await writeProfileParquet(join(dir, 'out'), prof)
  const db = await DuckDBInstance.create(':memory:')
  const con = await db.connect()
  t.teardown(() => { con.closeSync(); db.closeSync() })
  const at = `'${join(dir, 'out', 'sample.parquet')}'`
  const types = (await con.runAndReadAll(`DESCRIBE SELECT * FROM ${at}`)).getRowObjectsJS().map((r) => [r.column_name, r.column_type])
  t.same(types, [['row', 'INTEGER'], ['position', 'INTEGER'], ['value', 'VARCHAR']])
  const count = (await con.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM ${at}`)).getRowObjectsJS()[0]!.n
  t.equal(count, 3 * columns, 'every cell of every sample row')
  const cells = (await con.runAndReadAll(`SELECT row, position, value FROM ${at} WHERE (row = 2 AND position IN (6, 7)) OR (row = 3 AND position = ${columns}) ORDER BY row, position`)).getRowObjectsJS()
  t.same(cells, [{ row: 2, position: 6, value: null }, { row: 2, position: 7, value: '16' }, { row: 3, position: columns, value: String(20 + columns - 1) }])
})
