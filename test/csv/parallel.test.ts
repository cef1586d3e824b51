import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t0, { test, type TAP } from 'tap'
import { CsvWorkerPool, profileCsv, profileCsvParallel, sniffCsv, type CsvProfile, type ParallelCheckpoint } from '../../src/csv/index.ts'
import { genTable, parseCsv, refProfile, rng, toCsv } from './helpers.ts'

const pool = new CsvWorkerPool({ size: 4 })
t0.teardown(async () => { await pool.close() })

// Mean and variance are merged by Chan et al.'s formula, which rounds differently from one
// running Welford sum: equal to 1e-12 relative; every other field is equal exactly.
function sameProfile (t: Pick<TAP, 'same' | 'ok'>, par: CsvProfile, single: CsvProfile, what: string): void {
  const exact = (p: CsvProfile): unknown => ({ ...p, durationMs: 0, columnStats: p.columnStats.map((c) => ({ ...c, mean: c.mean === null, stddev: c.stddev === null })) })
  t.same(exact(par), exact(single), what)
  for (const [i, c] of single.columnStats.entries()) {
    for (const key of ['mean', 'stddev'] as const) {
      const a = par.columnStats[i]![key]
      const b = c[key]
      if (a === null || b === null) continue
      t.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${c.name}.${key} ${a} ~ ${b}`)
    }
  }
}

test('random tables across delimiters, line ends, split points and read sizes: parallel = single-threaded', async (t) => {
  const dir = t.testdir()
  const delims = [',', ';', '\t', '|']
  let reprofiled = 0
  for (let seed = 30; seed < 42; seed++) {
    const { header, rows } = genTable({ rows: 600 + seed * 41, seed })
    const delim = delims[seed % 4]!
    const eol = seed % 3 === 0 ? '\r\n' : '\n'
    const path = join(dir, `r${seed}.csv`)
    writeFileSync(path, (seed % 5 === 0 ? '\ufeff' : '') + toCsv(header, rows, delim, eol))
    const pv = await sniffCsv(path)
    const bufferBytes = 16 + (seed * 97) % 3000
    const single = await profileCsv(path, pv, { bufferBytes })
    for (const workers of [2, 3, 4]) {
      const par = await profileCsvParallel(path, pv, {
        pool, workers, minRangeBytes: 1, tableBudgetBytes: 2 ** 40, bufferBytes, chunkRows: 97, onRanges: (r) => { reprofiled += r.reprofiled; t.equal(r.ranges, workers) }
      })
      sameProfile(t, par, single, `seed ${seed}, ${JSON.stringify(delim)}, ${workers} ranges`)
    }
  }
  t.ok(reprofiled > 0, `some guessed range starts fell inside quoted fields and were profiled again (${reprofiled})`)
})

test('a quoted field with many newlines across every split point; blank lines; ragged rows', async (t) => {
  const dir = t.testdir()
  const r = rng(7)
  const lines = ['id,note,n']
  for (let i = 0; i < 300; i++) lines.push(`${i},plain ${i},${Math.floor(r() * 50)}`)
  // One field holding what looks like 2,000 rows: every guessed start in it is wrong.
  const fake = Array.from({ length: 2000 }, (_, i) => `${i},fake,${i}`).join('\n')
  lines.push(`300,"${fake}",1`)
  for (let i = 301; i < 600; i++) lines.push(i % 50 === 0 ? `${i},ragged` : i % 70 === 0 ? '' : `${i},"q ""${i}""",${i % 7}`)
  const text = lines.join('\n') + '\n'
  const path = join(dir, 'q.csv')
  writeFileSync(path, text)
  const pv = await sniffCsv(path)
  const single = await profileCsv(path, pv)
  t.equal(single.rows, parseCsv(text, ',').length - 1 - single.malformedRows)
  t.ok(single.malformedRows > 0)
  let info = { ranges: 0, reprofiled: 0 }
  const par = await profileCsvParallel(path, pv, { pool, workers: 4, minRangeBytes: 1, onRanges: (i) => { info = i } })
  sameProfile(t, par, single, 'giant quoted field')
  t.ok(info.reprofiled >= 2, `ranges profiled again: ${info.reprofiled} of ${info.ranges}`)
  // The memory budget for exact tables bounds the ranges run at once, whatever the workers.
  await profileCsvParallel(path, pv, { pool, workers: 4, minRangeBytes: 1, tableBudgetBytes: 3 * 2 * 8e6, distinctCap: 100_000, onRanges: (i) => { info = i } })
  t.equal(info.ranges, 2, 'a budget for two ranges of 3 columns at a 100,000 cap')
})

test('past the distinct cap: the same estimate, Misra-Gries counts within their bound', async (t) => {
  const dir = t.testdir()
  const { header, rows } = genTable({ rows: 6000, seed: 9 })
  const text = toCsv(header, rows)
  const path = join(dir, 'cap.csv')
  writeFileSync(path, text)
  const pv = await sniffCsv(path)
  const opts = { distinctCap: 50 }
  const single = await profileCsv(path, pv, opts)
  const par = await profileCsvParallel(path, pv, { ...opts, pool, workers: 3, minRangeBytes: 1 })
  const ref = refProfile(parseCsv(text, ','))
  const strip = (p: CsvProfile): unknown => ({ ...p, durationMs: 0, columnStats: p.columnStats.map((c) => ({ ...c, mean: 0, stddev: 0, topValues: c.topValuesIsEstimate ? [] : c.topValues })) })
  t.same(strip(par), strip(single), 'every field but the estimated top values')
  for (const [i, c] of par.columnStats.entries()) {
    if (!c.topValuesIsEstimate) continue
    const truth = new Map<string, number>()
    for (const row of rows) if (row[i] !== '') truth.set(row[i]!, (truth.get(row[i]!) ?? 0) + 1)
    for (const v of c.topValues) {
      const n = truth.get(v.value)!
      t.ok(v.count <= n && v.count >= n - rows.length / 1025, `${c.name} "${v.value}": ${v.count} within [${n} - rows/1025, ${n}]`)
    }
    t.equal(c.distinct, single.columnStats[i]!.distinct, `${c.name}: the same HyperLogLog estimate`)
    t.ok(Math.abs(c.distinct - ref[i]!.distinct) / ref[i]!.distinct < 0.05, `${c.name} distinct ${c.distinct} ~ ${ref[i]!.distinct}`)
  }
})

test('an abort reaches every worker within a chunk; the pool is usable afterwards', async (t) => {
  const dir = t.testdir()
  const { header, rows } = genTable({ rows: 60_000, seed: 12 })
  const path = join(dir, 'big.csv')
  writeFileSync(path, toCsv(header, rows))
  const pv = await sniffCsv(path)
  const ac = new AbortController()
  const reason = new Error('cancelled by user')
  let last = 0
  let afterAbort = 0
  await t.rejects(profileCsvParallel(path, pv, {
    pool,
    workers: 2,
    minRangeBytes: 1,
    chunkRows: 500,
    signal: ac.signal,
    onProgress: (p) => {
      if (ac.signal.aborted) afterAbort++
      last = p.rowsDone
      if (p.rowsDone >= 2000) ac.abort(reason)
    }
  }), reason)
  t.ok(last < 20_000, `stopped early: ${last} of 60,000 rows`)
  // Without the abort bit the workers would go on for ~110 more chunks; a loaded machine lets a few more through.
  t.ok(afterAbort <= 2 * 5, `at most a few chunks per worker after the abort (${afterAbort} progress messages)`)
  const pre = new AbortController()
  pre.abort(new Error('already'))
  await t.rejects(profileCsvParallel(path, pv, { pool, signal: pre.signal }), { message: 'already' })
  const done = await profileCsvParallel(path, pv, { pool, workers: 2, minRangeBytes: 1 })
  t.equal(done.rows, 60_000, 'the same pool profiles the next file')
})

test('resuming from parallel checkpoints gives the uninterrupted result; checkpoints refuse another file', async (t) => {
  const dir = t.testdir()
  const { header, rows } = genTable({ rows: 40_000, seed: 13 })
  const path = join(dir, 'cp.csv')
  writeFileSync(path, toCsv(header, rows))
  const pv = await sniffCsv(path)
  const stateDir = join(dir, 'state')
  mkdirSync(stateDir)
  for (const [distinctCap, inFiles] of [[100_000, false], [200, false], [200, true]] as const) {
    const opts = { pool, workers: 3, minRangeBytes: 1, chunkRows: 200, distinctCap, bufferBytes: 4096, stateDir: inFiles ? stateDir : undefined }
    const full = await profileCsvParallel(path, pv, opts)
    sameProfile(t, full, distinctCap === 200 ? full : await profileCsv(path, pv, { distinctCap }), `cap ${distinctCap}: parallel = single`)
    // Stop at the second checkpoint, then resume twice in a row (a checkpoint of a resumed run).
    let saved: ParallelCheckpoint | undefined
    let n = 0
    const ac = new AbortController()
    await t.rejects(profileCsvParallel(path, pv, {
      ...opts,
      signal: ac.signal,
      checkpointEveryMs: 1,
      onCheckpoint: (cp) => { if (++n === 2) { saved = JSON.parse(JSON.stringify(cp)) as ParallelCheckpoint; ac.abort(new Error('stop')) } }
    }), { message: 'stop' })
    t.ok(saved!.ranges.some((r) => r.offset > r.start), 'the checkpoint holds progress')
    t.equal(saved!.ranges.every((r) => (r.stateFile !== undefined) === (inFiles && r.offset > r.start)), true, inFiles ? 'statistics in files' : 'statistics inline')
    let second: ParallelCheckpoint | undefined
    const ac2 = new AbortController()
    await t.rejects(profileCsvParallel(path, pv, {
      ...opts,
      resume: saved,
      signal: ac2.signal,
      checkpointEveryMs: 1,
      onCheckpoint: (cp) => { second ??= JSON.parse(JSON.stringify(cp)) as ParallelCheckpoint; ac2.abort(new Error('again')) }
    }), { message: 'again' })
    const resumed = await profileCsvParallel(path, pv, { ...opts, resume: second })
    t.same({ ...resumed, durationMs: 0 }, { ...full, durationMs: 0 }, `cap ${distinctCap}${inFiles ? ', state files' : ''}: resumed = uninterrupted`)
  }
  t.ok(readdirSync(stateDir).length <= 3 * 3 + 3, `old state files are removed (${readdirSync(stateDir).length} left)`)
  const cp = await new Promise<ParallelCheckpoint>((resolve, reject) => {
    const ac = new AbortController()
    profileCsvParallel(path, pv, { pool, workers: 2, minRangeBytes: 1, checkpointEveryMs: 1, signal: ac.signal, onCheckpoint: (c) => { resolve(JSON.parse(JSON.stringify(c)) as ParallelCheckpoint); ac.abort() } })
      .catch(() => {}).finally(() => { reject(new Error('no checkpoint')) })
  })
  writeFileSync(path, toCsv(header, rows) + '1,2\n')
  await t.rejects(profileCsvParallel(path, pv, { pool, resume: cp }), { code: 'BAD_CHECKPOINT', message: /the file is now/ })
  writeFileSync(path, toCsv(header, rows))
  await t.rejects(profileCsvParallel(path, pv, { pool, resume: { ...cp, ranges: [{ ...cp.ranges[0]!, offset: -1 }] } }), { code: 'BAD_CHECKPOINT', message: /damaged/ })
  await t.rejects(profileCsvParallel(path, pv, { pool, resume: { ...cp, kind: undefined } as unknown as ParallelCheckpoint }), { code: 'BAD_CHECKPOINT' })
})

test('the worker that finalizes the profile writes the Parquet outputs when asked (one range or merged)', async (t) => {
  const dir = t.testdir()
  const { header, rows } = genTable({ rows: 500, seed: 21 })
  const path = join(dir, 'p.csv')
  writeFileSync(path, toCsv(header, rows))
  const preview = await sniffCsv(path)
  for (const workers of [1, 3]) {
    const out = join(dir, `out-${workers}`)
    let files: Array<{ name: string, bytes: number }> = []
    const prof = await profileCsvParallel(path, preview, { pool, workers, minRangeBytes: 1, tableBudgetBytes: 2 ** 40, parquet: { dir: out, written: (f) => { files = f } } })
    t.same(files.map((f) => f.name), ['summary.parquet', 'columns.parquet', 'sample.parquet'], `${workers} range(s): the files are reported`)
    t.same(readdirSync(out).sort(), ['columns.parquet', 'sample.parquet', 'summary.parquet'], `${workers} range(s): and written`)
    t.ok(files.every((f) => f.bytes > 0))
    t.equal(prof.rows, 500)
  }
})
