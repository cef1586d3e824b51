import { readdirSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { DuckDBInstance } from '@duckdb/node-api'
import { test } from 'tap'
import { CsvWorkerPool, profileCsvParallel, sniffCsv } from '../../src/csv/index.ts'
import type { JobView } from '../../src/schemas/job.ts'
import { pollUntil, startChildServer } from '../child-server.ts'
import { encode1252, genTable, parseCsv, refProfile, toCsv } from '../csv/helpers.ts'
import { AUTH, build, TOKENS, tempDataDir, waitForJob, waitForState } from '../helper.ts'
import { listen } from '../sse/fixtures.ts'
import { dataOf, openSse } from '../sse/sse-client.ts'

const BOM = Buffer.from([0xef, 0xbb, 0xbf])

interface CsvResult {
  summary: { rows: number, columns: number, bytes: number, malformedRows: number, malformedLines: number[], durationMs: number, delimiter: string, encoding: string }
  columns: Array<Record<string, unknown> & { name: string, mean: number | null, stddev: number | null }>
  resumedFromByte: number
}

// A real multipart request, as a browser's FormData sends it.
async function upload (base: string, body: Buffer, name: string, options: { input?: unknown, type?: string } = {}): Promise<Response> {
  const form = new FormData()
  if (options.input !== undefined) form.set('input', JSON.stringify(options.input))
  form.set('file', new Blob([body], { type: options.type ?? 'text/csv' }), name)
  return await fetch(`${base}/api/jobs/csv-profile`, { method: 'POST', headers: AUTH.alice, body: form })
}

const close = (a: number | null, b: number | null): boolean =>
  a === null || b === null ? a === b : Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b))

test('a CSV upload with BOM, CRLF, quoting, quoted newlines, empty cells and non-ASCII: preview, statistics, Parquet', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const { header, rows } = genTable({ rows: 3000, seed: 11 })
  const text = toCsv(header, rows, ',', '\r\n')

  const res = await upload(base, Buffer.concat([BOM, Buffer.from(text)]), 'orders.csv', { input: { chunkRows: 500 } })
  t.equal(res.status, 202)
  const job = await res.json() as JobView & { preview: { delimiter: string, encoding: string, header: string[], rows: string[][] } }
  t.equal(res.headers.get('location'), `/api/jobs/${job.id}`)
  t.equal(job.state, 'queued')
  t.same(job.files.map((f) => f.name), ['orders.csv'])
  t.equal(job.preview.delimiter, ',')
  t.equal(job.preview.encoding, 'utf-8-bom')
  t.same(job.preview.header, header)
  t.same(job.preview.rows, rows.slice(0, 5), 'the first 5 rows, quoted newlines and all')

  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed')
  t.equal(done.state, 'completed', JSON.stringify(done.error))
  const result = done.result as CsvResult
  const table = parseCsv(text, ',')
  const reference = refProfile(table)
  t.equal(result.summary.rows, rows.length)
  t.equal(result.summary.columns, header.length)
  t.equal(result.summary.malformedRows, 0)
  for (const [i, expected] of reference.entries()) {
    const actual = result.columns[i]!
    for (const key of ['name', 'type', 'count', 'nulls', 'distinct', 'min', 'max', 'minLength', 'maxLength', 'topValues'] as const) {
      t.same(actual[key], expected[key], `${expected.name}.${key}`)
    }
    t.ok(close(actual.mean, expected.mean), `${expected.name}.mean`)
    t.ok(close(actual.stddev, expected.stddev), `${expected.name}.stddev`)
  }

  // The artifacts, downloaded over HTTP and read with DuckDB (not the library that wrote them).
  const view = await (await fetch(`${base}/api/jobs/${job.id}`, { headers: AUTH.alice })).json() as JobView
  t.same(view.artifacts.map((a) => a.name).sort(), ['columns.parquet', 'sample.parquet', 'summary.parquet'])
  const dir = tempDataDir(t)
  for (const artifact of view.artifacts) {
    const download = await fetch(`${base}${artifact.url}`, { headers: AUTH.alice })
    t.equal(download.status, 200)
    t.equal(download.headers.get('content-disposition'), `attachment; filename="${artifact.name}"`)
    const bytes = Buffer.from(await download.arrayBuffer())
    t.equal(Number(download.headers.get('content-length')), bytes.length)
    t.equal(bytes.length, artifact.size)
    writeFileSync(join(dir, artifact.name), bytes)
  }
  const db = await DuckDBInstance.create(':memory:')
  const con = await db.connect()
  t.teardown(() => { con.closeSync(); db.closeSync() })
  const all = async (sql: string): Promise<Array<Record<string, unknown>>> => (await con.runAndReadAll(sql)).getRowObjectsJS()
  const at = (name: string): string => `'${join(dir, name)}'`

  const sampleTypes = Object.fromEntries((await all(`DESCRIBE SELECT * FROM ${at('sample.parquet')}`)).map((r) => [r.column_name, r.column_type]))
  t.same(sampleTypes, { id: 'BIGINT', amount: 'DOUBLE', flag: 'BOOLEAN', day: 'DATE', ts: 'TIMESTAMP', city: 'VARCHAR', mixed: 'VARCHAR', code: 'VARCHAR', empty: 'VARCHAR', qty: 'BIGINT' })
  const sample = await all(`SELECT id, city FROM ${at('sample.parquet')}`)
  t.equal(sample.length, 1000)
  t.same(sample.slice(0, 50).map((r) => [String(r.id), r.city]), rows.slice(0, 50).map((r) => [r[0], r[5] === '' ? null : r[5]]))
  const columns = await all(`SELECT name, type, "count", nulls, "distinct" FROM ${at('columns.parquet')} ORDER BY position`)
  t.same(columns.map((c) => [c.name, c.type, Number(c.count), Number(c.nulls), Number(c.distinct)]),
    reference.map((c) => [c.name, c.type, c.count, c.nulls, c.distinct]))
  const summary = await all(`SELECT "rows", "columns" FROM ${at('summary.parquet')}`)
  t.same(summary.map((s) => [Number(s.rows), Number(s.columns)]), [[rows.length, header.length]])
})

test('a semicolon-delimited Windows-1252 file gets its delimiter, encoding and accented text right', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const text = 'Año;Ciudad;Importe\r\n2023;Córdoba;12,50\r\n2024;Peñíscola;7,25\r\n2024;Córdoba;3\r\n'
  const res = await upload(base, encode1252(text), 'ventas.csv')
  t.equal(res.status, 202)
  const job = await res.json() as JobView & { preview: { delimiter: string, encoding: string, header: string[], rows: string[][] } }
  t.equal(job.preview.delimiter, ';')
  t.equal(job.preview.encoding, 'windows-1252')
  t.same(job.preview.header, ['Año', 'Ciudad', 'Importe'])
  t.same(job.preview.rows[1], ['2024', 'Peñíscola', '7,25'])
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed')
  const city = (done.result as CsvResult).columns[1]!
  t.same(city.topValues, [{ value: 'Córdoba', count: 2 }, { value: 'Peñíscola', count: 1 }])
})

test('refusals leave nothing behind: over the limit (413), not a CSV (422), wrong extension (415), no file (400)', async (t) => {
  const app = await build(t, { csvMaxBytes: 10_000 })
  const base = await listen(app)
  const filesDir = join(app.jobcast.config.dataDir, 'files')
  const leftovers = (): string[] => existsSync(filesDir) ? readdirSync(filesDir) : []

  const big = await upload(base, Buffer.from(toCsv(['a', 'b'], Array.from({ length: 3000 }, (_, i) => [String(i), 'text']))), 'big.csv')
  t.equal(big.status, 413)
  const bigBody = await big.json() as { code: string, message: string }
  t.equal(bigBody.code, 'FILE_TOO_LARGE')
  t.match(bigBody.message, /9\.8 KiB/, 'names the limit')

  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(200)])
  const binary = await upload(base, png, 'photo.csv')
  t.equal(binary.status, 422)
  t.equal((await binary.json() as { code: string }).code, 'NOT_CSV')

  const wrongName = await upload(base, Buffer.from('a,b\n1,2\n'), 'data.xlsx', { type: 'application/octet-stream' })
  t.equal(wrongName.status, 415)
  t.equal((await wrongName.json() as { code: string }).code, 'FILE_TYPE_NOT_ACCEPTED')

  const none = await fetch(`${base}/api/jobs/csv-profile`, { method: 'POST', headers: { ...AUTH.alice, 'content-type': 'application/json' }, body: '{}' })
  t.equal(none.status, 400)
  t.equal((await none.json() as { code: string }).code, 'FILES_REQUIRED')

  t.same(leftovers(), [], 'no upload left on disk')
  t.equal((await app.jobcast.service.store.list('alice', { limit: 10 })).length, 0, 'no job created')
})

test('a ragged CSV completes, with the malformed rows counted and their lines reported', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const text = 'a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n"x,1,2\n'
  const res = await upload(base, Buffer.from(text), 'ragged.csv')
  t.equal(res.status, 202)
  const { id } = await res.json() as JobView
  const done = await waitForState(app, 'alice', id, 'completed', 'failed')
  t.equal(done.state, 'completed')
  const { summary } = done.result as CsvResult
  t.equal(summary.rows, 2)
  t.equal(summary.malformedRows, 3)
  t.same(summary.malformedLines, [3, 5, 6])
})

test('progress on the SSE stream rises monotonically and reaches 100% before completed', async (t) => {
  const app = await build(t, { progressIntervalMs: 10 })
  const base = await listen(app)
  const stream = await openSse(`${base}/api/events`, { headers: AUTH.alice })
  t.teardown(async () => { await stream.close() })
  await stream.next((e) => e.event === 'snapshot')
  const { header, rows } = genTable({ rows: 20_000, seed: 5 })
  const res = await upload(base, Buffer.from(toCsv(header, rows)), 'many.csv', { input: { chunkRows: 500 } })
  const { id } = await res.json() as JobView
  const percents: number[] = []
  for (;;) {
    const event = await stream.next()
    const job = dataOf<JobView>(event)
    if (job.id !== id) continue
    if (event.event === 'progress') percents.push(job.progress!.percent!)
    if (event.event === 'completed' || event.event === 'failed') {
      t.equal(event.event, 'completed')
      break
    }
  }
  t.ok(percents.length >= 3, `several progress events (${percents.length})`)
  t.ok(percents.every((p, i) => i === 0 || p >= percents[i - 1]!), `monotonic: ${percents.join(' ')}`)
  t.equal(percents.at(-1), 100, 'the last progress before completed is 100%')
})

test('while a file is profiled on the workers the event loop stays free: /healthz answers, loop delay median under 3 ms', async (t) => {
  // One worker, so the other core is left to the event loop even on a 2-core machine; a checkpoint
  // every 200 ms (its statistics are written by the worker, the event loop stores a file name).
  const app = await build(t, { csvWorkers: 1, progressIntervalMs: 10, csvCheckpointMs: 200 })
  const base = await listen(app)
  const stream = await openSse(`${base}/api/events`, { headers: AUTH.alice })
  t.teardown(async () => { await stream.close() })
  await stream.next((e) => e.event === 'snapshot')
  const { header, rows } = genTable({ rows: 120_000, seed: 31 })
  const csv = Buffer.from(toCsv(header, rows))
  // The same /healthz loop with nothing else running, for scale: the machine may be shared.
  const idle = monitorEventLoopDelay({ resolution: 1 })
  idle.enable()
  for (const until = Date.now() + 1000; Date.now() < until;) await (await fetch(`${base}/healthz`)).arrayBuffer()
  idle.disable()
  const res = await upload(base, csv, 'big.csv', { input: { chunkRows: 1000 } })
  t.equal(res.status, 202)
  const { id } = await res.json() as JobView
  await waitForJob(app, 'alice', id, (job) => job.state !== 'queued')
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  let progressEvents = 0
  const counted = (async () => {
    for (;;) {
      const event = await stream.next()
      if (dataOf<JobView>(event).id !== id) continue
      if (event.event === 'progress') progressEvents++
      if (event.event === 'completed' || event.event === 'failed') return
    }
  })()
  let healthy = 0
  let finished = false
  const done = waitForState(app, 'alice', id, 'completed', 'failed').finally(() => { finished = true })
  while (!finished) {
    const h = await fetch(`${base}/healthz`)
    await h.arrayBuffer()
    if (h.status === 200) healthy++
  }
  delay.disable()
  await counted
  t.equal((await done).state, 'completed')
  t.ok(progressEvents >= 10, `a multi-chunk profile: ${progressEvents} progress events`)
  t.ok(healthy >= 10, `/healthz answered ${healthy} times during the profile`)
  const ms = (h: typeof delay, p: number): number => h.percentile(p) / 1e6
  const summary = `p50 ${ms(delay, 50).toFixed(2)}, p90 ${ms(delay, 90).toFixed(2)}, p99 ${ms(delay, 99).toFixed(2)} ms; idle: p50 ${ms(idle, 50).toFixed(2)}, p90 ${ms(idle, 90).toFixed(2)}, p99 ${ms(idle, 99).toFixed(2)} ms`
  // A profile on the event loop blocks it for ~10 ms at a time (its yield interval), which moves
  // the median delay of a 1 ms timer to several ms (7.7 ms measured) and its p99 past 100 ms.
  // Preemption on a loaded machine moves the tail of an idle loop too (p99 15-70 ms seen on a
  // shared 2-core machine), so the tail bound is relative to the idle run.
  t.ok(ms(delay, 50) < 3, `median event-loop delay under 3 ms (${summary})`)
  // The main-thread engine measured p99 282 ms here: this bound catches it and tolerates a machine shared with other tests.
  t.ok(ms(delay, 99) < Math.max(100, 5 * ms(idle, 99)), `p99 under 100 ms, or 5x the idle p99 on a loaded machine (${summary})`)
})

test('killed mid-profile with SIGKILL and restarted: resumes from its checkpoint, same statistics as an uninterrupted run', async (t) => {
  const dataDir = tempDataDir(t)
  const env = { JOBCAST_DATA_DIR: dataDir, JOBCAST_TOKENS: `alice:${TOKENS.alice}`, JOBCAST_CSV_CHECKPOINT_MS: '50', JOBCAST_CSV_WORKERS: '2' }
  const { header, rows } = genTable({ rows: 150_000, seed: 21 })
  const csv = Buffer.from(toCsv(header, rows))
  const path = join(tempDataDir(t), 'orders.csv')
  writeFileSync(path, csv)

  const first = await startChildServer(t, env)
  const res = await upload(first.url, csv, 'orders.csv', { input: { chunkRows: 500 } })
  t.equal(res.status, 202)
  const { id } = await res.json() as JobView
  const get = async (url: string): Promise<JobView> => await (await fetch(`${url}/api/jobs/${id}`, { headers: AUTH.alice })).json() as JobView
  // Kill once a checkpoint past the start has had time to be written: a quarter of the bytes profiled.
  const seen = await pollUntil(async () => { const job = await get(first.url); return (job.progress?.percent ?? 0) >= 25 || job.state !== 'running' && job.state !== 'queued' ? job : undefined }, 'a quarter profiled')
  t.equal(seen.state, 'running', 'still running when killed')
  await first.kill()

  const second = await startChildServer(t, env)
  const done = await pollUntil(async () => { const job = await get(second.url); return job.state === 'completed' || job.state === 'failed' ? job : undefined }, 'the job to finish', 60_000)
  t.equal(done.state, 'completed', JSON.stringify(done.error))
  t.equal(done.attempt, 2)
  const result = done.result as CsvResult
  t.ok(result.resumedFromByte > 0, `resumed from byte ${result.resumedFromByte}, not from zero`)

  // The same ranges on two workers, uninterrupted (past the distinct cap, the Misra-Gries counts
  // depend on where the file is split, so the reference is split the same way).
  const pool = new CsvWorkerPool({ size: 2 })
  t.teardown(async () => { await pool.close() })
  const uninterrupted = await profileCsvParallel(path, await sniffCsv(path), { chunkRows: 500, pool })
  const { durationMs: _a, ...summary } = result.summary
  t.same(summary, { delimiter: uninterrupted.delimiter, encoding: uninterrupted.encoding, header: uninterrupted.header, rows: uninterrupted.rows, columns: uninterrupted.columns, bytes: uninterrupted.bytes, malformedRows: uninterrupted.malformedRows, malformedLines: uninterrupted.malformedLines })
  t.same(result.columns, JSON.parse(JSON.stringify(uninterrupted.columnStats)))
})
