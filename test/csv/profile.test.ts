import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TAP } from 'tap'
import { profileCsv, sniffCsv, type CsvProfile, type ProfileCheckpoint } from '../../src/csv/index.ts'
import { encode1252, genTable, parseCsv, refProfile, toCsv } from './helpers.ts'

function close (a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b))
}

// Compares the engine's profile with the reference profile of the same text.
function compare (t: Pick<TAP, 'equal' | 'same' | 'ok'>, prof: CsvProfile, text: string, delim: string, bytesOf?: (s: string) => Buffer): void {
  const table = parseCsv(text, delim)
  const ref = refProfile(table, bytesOf)
  t.equal(prof.rows, table.length - 1, 'rows')
  t.equal(prof.columns, ref.length, 'columns')
  t.equal(prof.malformedRows, 0, 'no malformed rows')
  for (const [i, r] of ref.entries()) {
    const c = prof.columnStats[i]!
    const { mean, stddev, ...rest } = r
    t.same({ ...c, mean: null, stddev: null, distinctIsEstimate: undefined, topValuesIsEstimate: undefined },
      { ...rest, mean: null, stddev: null, distinctIsEstimate: undefined, topValuesIsEstimate: undefined }, `column ${r.name}`)
    t.ok(close(c.mean, mean), `${r.name} mean ${c.mean} ~ ${mean}`)
    t.ok(close(c.stddev, stddev), `${r.name} stddev ${c.stddev} ~ ${stddev}`)
    t.equal(c.distinctIsEstimate, false)
  }
  t.same(prof.sample, table.slice(1, 1001).map((row) => row.map((v) => v === '' ? null : v)), 'sample = first 1000 rows')
}

test('matches the reference profile: quoting, quoted newlines, empty cells, non-ASCII, types', async (t) => {
  const dir = t.testdir()
  const { header, rows } = genTable({ rows: 3000, seed: 1 })
  const text = toCsv(header, rows)
  const path = join(dir, 'a.csv')
  writeFileSync(path, text)
  const pv = await sniffCsv(path)
  t.equal(pv.delimiter, ',')
  t.equal(pv.encoding, 'utf-8')
  const prof = await profileCsv(path, pv, { chunkRows: 250 })
  compare(t, prof, text, ',')
  t.same(prof.columnStats.map((c) => c.type),
    ['integer', 'number', 'boolean', 'date', 'datetime', 'string', 'string', 'string', 'string', 'integer'])
})

test('BOM, CRLF line ends and semicolons', async (t) => {
  const dir = t.testdir()
  const { header, rows } = genTable({ rows: 1500, seed: 2 })
  const text = toCsv(header, rows, ';', '\r\n')
  const path = join(dir, 'b.csv')
  writeFileSync(path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))
  const pv = await sniffCsv(path)
  t.equal(pv.delimiter, ';')
  t.equal(pv.encoding, 'utf-8-bom')
  t.equal(pv.header[0], 'id', 'BOM is not part of the first name')
  const prof = await profileCsv(path, pv)
  compare(t, prof, text, ';')
})

test('Windows-1252 semicolon file with accented text (Excel, Spanish locale)', async (t) => {
  const dir = t.testdir()
  const r = [['nombre', 'ciudad', 'importe', 'nota']]
  const names = ['José', 'María', 'Íñigo', 'Begoña', 'Ramón', 'Zoë', 'Œdipe', 'Ángela']
  for (let i = 0; i < 400; i++) {
    r.push([names[i % names.length]!, i % 3 === 0 ? 'Cádiz' : 'Logroño', `${i},${i % 100}`, i % 7 === 0 ? '“citado” — 5 €' : 'año; ñandú'])
  }
  const text = r.map((row) => row.map((v) => /[";\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v).join(';')).join('\r\n') + '\r\n'
  const path = join(dir, 'es.csv')
  writeFileSync(path, encode1252(text))
  const pv = await sniffCsv(path)
  t.equal(pv.encoding, 'windows-1252')
  t.equal(pv.delimiter, ';')
  t.same(pv.rows[0], ['José', 'Cádiz', '0,0', '“citado” — 5 €'])
  const prof = await profileCsv(path, pv)
  compare(t, prof, text, ';', encode1252)
  const nota = prof.columnStats[3]!
  t.same(nota.topValues.map((v) => v.value), ['año; ñandú', '“citado” — 5 €'])
  t.equal(nota.maxLength, 14, 'lengths count characters, not bytes')
})

test('ragged rows and broken quoting are counted with line numbers, never crash', async (t) => {
  const dir = t.testdir()
  const text = [
    'a,b,c', // 1
    '1,2,3', // 2
    '4,5', // 3 malformed: too few
    '6,7,8', // 4
    '9,10,11,12', // 5 malformed: too many
    '"x', // 6 (quoted newline)
    'y",1,2', // 7
    '"bad"z,1,2', // 8 malformed: text after closing quote
    '', // 9 blank: skipped
    '3,4,5', // 10
    '"unterminated,1,2', // 11 malformed: quote never closed
    '7,8,9' // 12 resynchronised
  ].join('\n') + '\n'
  const path = join(dir, 'm.csv')
  writeFileSync(path, text)
  const prof = await profileCsv(path, await sniffCsv(path), { chunkRows: 2 })
  t.equal(prof.rows, 5)
  t.equal(prof.malformedRows, 4)
  t.same(prof.malformedLines, [3, 5, 8, 11])
  t.same(prof.sample, [['1', '2', '3'], ['6', '7', '8'], ['x\ny', '1', '2'], ['3', '4', '5'], ['7', '8', '9']])
  t.equal(prof.columnStats[1]!.type, 'integer')
})

test('resuming from any checkpoint gives the same statistics as an uninterrupted run', async (t) => {
  const dir = t.testdir()
  const { header, rows } = genTable({ rows: 4000, seed: 3 })
  const path = join(dir, 'r.csv')
  writeFileSync(path, toCsv(header, rows))
  const pv = await sniffCsv(path)
  // A small distinct cap puts several columns into the estimating phase before the checkpoint.
  for (const distinctCap of [100_000, 60]) {
    const opts = { chunkRows: 300, distinctCap }
    const full = await profileCsv(path, pv, opts)
    t.equal(full.columnStats.some((c) => c.distinctIsEstimate), distinctCap === 60)
    const strip = (p: CsvProfile): unknown => ({ ...p, durationMs: 0 })
    for (const stopAt of [1, 4, 13]) {
      let saved = ''
      const ac = new AbortController()
      let calls = 0
      await t.rejects(profileCsv(path, pv, {
        ...opts,
        signal: ac.signal,
        onChunk: (p) => {
          if (++calls === stopAt) {
            saved = JSON.stringify(p.checkpoint)
            ac.abort(new Error('stop here'))
          }
        }
      }), { message: 'stop here' })
      const cp = JSON.parse(saved) as ProfileCheckpoint
      t.equal(cp.rows, Math.min(stopAt * 300, 4000))
      // Resume twice in a row to exercise a checkpoint taken by a resumed run.
      let second = ''
      const ac2 = new AbortController()
      await t.rejects(profileCsv(path, pv, {
        ...opts,
        resume: cp,
        signal: ac2.signal,
        onChunk: (p) => { second = JSON.stringify(p.checkpoint); ac2.abort(new Error('again')) }
      }), { message: 'again' })
      const resumed = await profileCsv(path, pv, { ...opts, resume: JSON.parse(second) as ProfileCheckpoint })
      t.same(strip(resumed), strip(full), `cap ${distinctCap}, stopped after chunk ${stopAt}`)
    }
  }
})

test('progress after each chunk; checkpoints refuse a changed file', async (t) => {
  const dir = t.testdir()
  const { header, rows } = genTable({ rows: 1000, seed: 4 })
  const path = join(dir, 'p.csv')
  writeFileSync(path, toCsv(header, rows))
  const pv = await sniffCsv(path)
  const seen: Array<{ bytesDone: number, rowsDone: number, rowsEstimate: number, bytesTotal: number }> = []
  let first: ProfileCheckpoint | undefined
  let stale: (() => unknown) | undefined
  await profileCsv(path, pv, {
    chunkRows: 300,
    onChunk: async (p) => {
      await Promise.resolve()
      first ??= p.checkpoint
      stale ??= () => p.checkpoint
      seen.push({ bytesDone: p.bytesDone, rowsDone: p.rowsDone, rowsEstimate: p.rowsEstimate, bytesTotal: p.bytesTotal })
    }
  })
  t.same(seen.map((s) => s.rowsDone), [300, 600, 900, 1000])
  t.equal(seen.at(-1)!.bytesDone, pv.bytes)
  t.ok(seen.every((s) => s.bytesTotal === pv.bytes))
  t.ok(seen.every((s, i) => i === 0 || s.bytesDone > seen[i - 1]!.bytesDone))
  t.ok(Math.abs(seen[0]!.rowsEstimate - 1000) < 150, `estimate ${seen[0]!.rowsEstimate} near 1000`)
  t.throws(() => stale!(), { code: 'STALE_CHECKPOINT' })
  writeFileSync(path, toCsv(header, rows) + '1,2,3\n')
  await t.rejects(profileCsv(path, pv, { resume: first! }), { code: 'BAD_CHECKPOINT', message: /the file is now/ })
  writeFileSync(path, toCsv(header, rows))
  const damaged = { ...first!, columns: first!.columns.map((c) => ({ ...c, values: { ...c.values, entries: 'AAAA' } })) }
  await t.rejects(profileCsv(path, pv, { resume: damaged }), { code: 'BAD_CHECKPOINT', message: /damaged/ })
  await t.rejects(profileCsv(path, pv, { resume: null as unknown as ProfileCheckpoint }), { code: 'BAD_CHECKPOINT' })
  await t.rejects(profileCsv(path, pv, { resume: { ...first!, distinctCap: 5 } }), { code: 'BAD_CHECKPOINT', message: /distinctCap/ })
})

test('abort stops the profile with the signal reason', async (t) => {
  const dir = t.testdir()
  const { header, rows } = genTable({ rows: 2000, seed: 5 })
  const path = join(dir, 'x.csv')
  writeFileSync(path, toCsv(header, rows))
  const pv = await sniffCsv(path)
  const ac = new AbortController()
  let calls = 0
  const reason = new Error('cancelled by user')
  await t.rejects(profileCsv(path, pv, {
    chunkRows: 100,
    signal: ac.signal,
    onChunk: () => { if (++calls === 2) ac.abort(reason) }
  }), reason)
  t.equal(calls, 2, 'no chunk after the abort')
  const pre = new AbortController()
  pre.abort(new Error('already'))
  await t.rejects(profileCsv(path, pv, { signal: pre.signal }), { message: 'already' })
})

test('the profile yields to the event loop: an abort from outside any callback stops it', async (t) => {
  const dir = t.testdir()
  const { header, rows } = genTable({ rows: 2000, seed: 8 })
  const path = join(dir, 'y.csv')
  writeFileSync(path, toCsv(header, rows))
  const pv = await sniffCsv(path)
  const ac = new AbortController()
  let calls = 0
  // The whole file fits one read, so only the profile's own yields let this timer run.
  await t.rejects(profileCsv(path, pv, {
    chunkRows: 10,
    yieldEveryMs: 0,
    signal: ac.signal,
    onChunk: () => { if (++calls === 1) setImmediate(() => ac.abort(new Error('from a timer'))) }
  }), { message: 'from a timer' })
  t.ok(calls <= 2, `stopped after ${calls} chunks of 10 rows`)
})

test('header only, no trailing newline, single column', async (t) => {
  const dir = t.testdir()
  const a = join(dir, 'h.csv')
  writeFileSync(a, 'x,y')
  const pa = await profileCsv(a, await sniffCsv(a))
  t.equal(pa.rows, 0)
  t.same(pa.columnStats.map((c) => [c.type, c.count, c.min]), [['string', 0, null], ['string', 0, null]])
  const b = join(dir, 'one.csv')
  writeFileSync(b, 'n\n1\n\n3\r\n4')
  const pb = await profileCsv(b, await sniffCsv(b))
  t.equal(pb.rows, 4)
  t.same(pb.columnStats[0], { ...pb.columnStats[0], type: 'integer', count: 3, nulls: 1, min: '1', max: '4' })
})

test('rows cut by tiny read buffers give the same profile', async (t) => {
  const dir = t.testdir()
  const { header, rows } = genTable({ rows: 800, seed: 6 })
  const text = toCsv(header, rows, ',', '\r\n')
  const path = join(dir, 'tiny.csv')
  writeFileSync(path, text)
  const pv = await sniffCsv(path)
  const base = await profileCsv(path, pv)
  compare(t, base, text, ',')
  for (const bufferBytes of [16, 100, 4096]) {
    const p = await profileCsv(path, pv, { bufferBytes, chunkRows: 77 })
    t.same({ ...p, durationMs: 0 }, { ...base, durationMs: 0 }, `buffer of ${bufferBytes} bytes`)
  }
})

test('an unclosed quote longer than maxRowBytes is one malformed row; the scan goes on', async (t) => {
  const dir = t.testdir()
  const lines = ['a,b,c']
  for (let i = 0; i < 5; i++) lines.push(`${i},x,y`)
  lines.push('1,"oops,3')
  for (let i = 0; i < 200; i++) lines.push(`${i},long enough text to pass the limit,z`)
  const path = join(dir, 'q.csv')
  writeFileSync(path, lines.join('\n') + '\n')
  const pv = await sniffCsv(path)
  const limited = await profileCsv(path, pv, { bufferBytes: 64, maxRowBytes: 256 })
  t.equal(limited.rows, 205)
  t.same(limited.malformedLines, [7])
  const unlimited = await profileCsv(path, pv)
  t.same({ ...unlimited, durationMs: 0 }, { ...limited, durationMs: 0 }, 'same as finding the end of file')
})

test('the default distinct cap shrinks for wide files', async (t) => {
  const { defaultDistinctCap } = await import('../../src/csv/index.ts')
  t.equal(defaultDistinctCap(12), 100_000)
  t.equal(defaultDistinctCap(200), 8_000)
  // Past a few hundred columns the cap keeps every column's table within the budget, whatever the width.
  const { STATS_BUDGET_BYTES } = await import('../../src/csv/profile.ts')
  const { tableBytes } = await import('../../src/csv/range-split.ts')
  for (const columns of [1000, 5000, 30_000]) {
    const cap = defaultDistinctCap(columns)
    t.ok(columns * tableBytes(cap) <= STATS_BUDGET_BYTES, `${columns} columns: cap ${cap}`)
  }
  t.equal(defaultDistinctCap(5000), 312)
})

test('random tables, delimiters, line ends and read sizes all match the reference', async (t) => {
  const dir = t.testdir()
  const delims = [',', ';', '\t', '|']
  for (let seed = 10; seed < 18; seed++) {
    const { header, rows } = genTable({ rows: 120 + seed * 37, seed })
    const delim = delims[seed % 4]!
    const eol = seed % 2 === 0 ? '\n' : '\r\n'
    const text = toCsv(header, rows, delim, eol)
    const path = join(dir, `r${seed}.csv`)
    writeFileSync(path, text)
    const pv = await sniffCsv(path)
    t.equal(pv.delimiter, delim, `seed ${seed} delimiter`)
    const prof = await profileCsv(path, pv, { bufferBytes: 16 + seed * 53, chunkRows: 50 })
    compare(t, prof, text, delim)
  }
})

test('integers beyond 2^53 keep exact extremes; beyond 64 bits they are numbers', async (t) => {
  const dir = t.testdir()
  const ids = ['9007199254740993', '9007199254740992', '-9223372036854775808', '9223372036854775807', '12', '9223372036854775806']
  const text = 'id,huge\n' + ids.map((v, i) => `${v},${i === 0 ? '9223372036854775808' : i}`).join('\n') + '\n'
  const path = join(dir, 'big.csv')
  writeFileSync(path, text)
  const prof = await profileCsv(path, await sniffCsv(path))
  compare(t, prof, text, ',')
  t.match(prof.columnStats[0], { type: 'integer', min: '-9223372036854775808', max: '9223372036854775807' })
  t.match(prof.columnStats[1], { type: 'number' })
  let cp = ''
  await profileCsv(path, await sniffCsv(path), { chunkRows: 4, onChunk: (p) => { cp ||= JSON.stringify(p.checkpoint) } })
  const r = await profileCsv(path, await sniffCsv(path), { chunkRows: 4, resume: JSON.parse(cp) as ProfileCheckpoint })
  t.same(r.columnStats, prof.columnStats, 'exact extremes survive a checkpoint')
})

test('values longer than 256 characters are reported cut there and the column marked truncated; shorter ones exact', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'long.csv')
  const a = 'a'.repeat(3000)
  const z = 'z' + 'é'.repeat(2000) // two bytes each: the kept prefix ends inside no character
  const quoted = `"${'q,'.repeat(1000)}"`
  writeFileSync(path, ['id,text,short', `1,${a},x`, `2,${z},y`, `3,${a},x`, `4,${quoted},y`, '5,abc,x'].join('\n') + '\n')
  const prof = await profileCsv(path, await sniffCsv(path))
  const text = prof.columnStats[1]!
  t.equal(text.min, 'a'.repeat(256))
  t.equal(text.max, 'z' + 'é'.repeat(255))
  t.equal(text.truncated, true)
  t.equal(text.maxLength, 3000, 'the true longest length is kept')
  t.same(text.topValues[0], { value: 'a'.repeat(256), count: 2 }, 'a top value is cut too, its count exact')
  t.ok(text.topValues.some((v) => v.value === 'q,'.repeat(128)), 'a quoted cell is decoded, then cut')
  t.ok(text.topValues.some((v) => v.value === 'abc'), 'a short value is whole')
  t.equal(prof.columnStats[2]!.truncated, undefined, 'a column with short values only is not marked')
  t.equal(prof.sample[0]![1], a, 'the sample keeps cells up to 4,096 characters')
})
