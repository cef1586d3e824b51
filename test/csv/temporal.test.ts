import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type Test } from 'tap'
import { profileCsv, sniffCsv, type CsvProfile } from '../../src/csv/index.ts'
import { parseCsv, refProfile, rng, toCsv } from './helpers.ts'

// The fast paths for dates and datetimes (fixed shapes, remembered day numbers, cells that start
// with four digits and a dash) must give the reference profile: types, chronological extremes,
// byte-order extremes once a column is text, and no invalid date taken for a date.

const pad = (n: number, w = 2): string => String(n).padStart(w, '0')

function stamp (r: () => number, sep = ' ', tail = ''): string {
  const y = 1990 + Math.floor(r() * 40)
  const m = 1 + Math.floor(r() * 12)
  const d = 1 + Math.floor(r() * 28)
  return `${y}-${pad(m)}-${pad(d)}${sep}${pad(Math.floor(r() * 24))}:${pad(Math.floor(r() * 60))}:${pad(Math.floor(r() * 60))}${tail}`
}

async function profileOf (t: Test, header: string[], rows: string[][], distinctCap?: number): Promise<{ text: string, prof: CsvProfile }> {
  const text = toCsv(header, rows)
  const path = join(t.testdir(), 'd.csv')
  writeFileSync(path, text)
  return { text, prof: await profileCsv(path, await sniffCsv(path), { chunkRows: 97, distinctCap }) }
}

test('one shape, mixed shapes, then text: extremes as the reference profile has them, below and past the distinct cap', async (t) => {
  const r = rng(11)
  const header = ['fixed', 'mixed', 'then_text', 'seps_then_text', 'minutes', 'dates', 'dates_then_dt', 'zulu']
  const rows: string[][] = []
  const n = 3000
  for (let i = 0; i < n; i++) {
    const late = i > n - 40
    rows.push([
      stamp(r),
      // One shape for most of the file, then offsets, fractions, `T` and minutes-only cells.
      late ? [stamp(r, 'T', '+05:30'), stamp(r, ' ', '.25'), stamp(r, 'T', '-11:00'), stamp(r, ' ', 'Z'), stamp(r).slice(0, 16), stamp(r, ' ', '.1234')][i % 6]! : stamp(r),
      // Datetimes whose time order is not their byte order once a text cell makes the column text.
      i === n - 5 ? 'not a date' : stamp(r, ' ', i % 3 === 0 ? '+14:00' : ''),
      i === n - 1 ? '2000-01-01x' : stamp(r, i % 2 === 0 ? 'T' : ' '),
      stamp(r).slice(0, 16),
      stamp(r).slice(0, 10),
      i === n - 3 ? stamp(r) : stamp(r).slice(0, 10),
      stamp(r, 'T', 'Z')
    ])
  }
  // The same instant twice in one shape: the first occurrence is the extreme reported.
  rows.push(['1989-12-31 23:59:59', '1989-12-31 23:59:59', '1989-12-31 23:59:59', '1989-12-31T23:59:59', '1989-12-31 23:59', '1989-12-31', '1989-12-31', '1989-12-31T23:59:59Z'])
  const { text, prof } = await profileOf(t, header, rows)
  const ref = refProfile(parseCsv(text, ','))
  t.same(prof.columnStats.map((c) => c.type), ['datetime', 'datetime', 'string', 'string', 'datetime', 'date', 'datetime', 'datetime'])
  for (const [i, c] of prof.columnStats.entries()) {
    const e = ref[i]!
    t.same({ type: c.type, min: c.min, max: c.max, minLength: c.minLength, maxLength: c.maxLength, distinct: c.distinct, top: c.topValues },
      { type: e.type, min: e.min, max: e.max, minLength: e.minLength, maxLength: e.maxLength, distinct: e.distinct, top: e.topValues }, c.name)
  }
  // Past the cap (every column estimating) the types and extremes stay the same.
  const { prof: capped } = await profileOf(t, header, rows, 20)
  t.ok(capped.columnStats.every((c) => c.distinctIsEstimate))
  t.same(capped.columnStats.map((c) => [c.type, c.min, c.max, c.minLength, c.maxLength]), prof.columnStats.map((c) => [c.type, c.min, c.max, c.minLength, c.maxLength]))
})

test('invalid dates and times are text, also right after a valid date of the same day and month', async (t) => {
  const cases: Record<string, string> = {
    not_leap: '2023-02-29 10:00:00', // after 2024-02-29 below
    century: '1900-02-29',
    month_13: '2023-13-01 00:00:00',
    month_0: '2023-00-10',
    day_32: '2023-01-32 00:00:00',
    day_31_april: '2023-04-31',
    hour_24: '2023-01-01 24:00:00',
    minute_60: '2023-01-01 10:60:00',
    leap_second: '2016-12-31 23:59:60',
    bad_offset: '2023-01-01 10:00:00+25:00',
    bad_fraction: '2023-01-01 10:00:00.',
    trailing: '2023-01-01 10:00:00 ',
    digits_dash: '1234-5678-90',
    short_time: '2023-01-01 10:0'
  }
  const header = Object.keys(cases)
  const valid = ['2024-02-29 10:00:00', '2000-02-29', '2023-12-01 00:00:00', '2023-01-10', '2023-01-31 00:00:00', '2023-04-30', '2023-01-01 23:00:00', '2023-01-01 10:59:00',
    '2016-12-31 23:59:59', '2023-01-01 10:00:00+14:00', '2023-01-01 10:00:00.5', '2023-01-01 10:00:00', '1234-12-30', '2023-01-01 10:00']
  const rows = [valid, valid, Object.values(cases), valid]
  const { prof } = await profileOf(t, header, rows)
  for (const [i, c] of prof.columnStats.entries()) {
    t.equal(c.type, 'string', `${c.name}: ${cases[c.name]!} is not a date or datetime`)
    const sorted = rows.map((row) => row[i]!).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    t.same([c.min, c.max], [sorted[0], sorted.at(-1)], `${c.name}: byte-order extremes`)
  }
  // The same cells alone: valid ones are dates or datetimes, each invalid one alone is text.
  const { prof: alone } = await profileOf(t, header, [valid, valid])
  t.ok(alone.columnStats.every((c) => c.type === 'date' || c.type === 'datetime'), 'the valid cells are dates or datetimes')
  const { prof: bad } = await profileOf(t, header, [Object.values(cases)])
  t.ok(bad.columnStats.every((c) => c.type === 'string'), 'the invalid cells alone are text')
})

test('numbers that look like the start of a date stay numbers', async (t) => {
  const { prof } = await profileOf(t, ['n', 'e'], [['2024', '1.2e-56789'], ['-2024', '12e-5'], ['2024.5', '1.5e-300']])
  t.same(prof.columnStats.map((c) => c.type), ['number', 'number'])
  t.same(prof.columnStats.map((c) => [c.min, c.max]), [['-2024', '2024.5'], ['0', '0.00012']])
})

test('cells of one length whose byte order is not their time order (separators, offsets, fractions)', async (t) => {
  const header = ['sep', 'offset', 'fraction']
  const rows = [
    ['1990-01-01T23:00:00', '2020-01-01 10:00:00+14:00', '2020-01-01 10:00:00.1234'],
    ['1990-01-01 00:00:00', '2020-01-01 09:00:00-11:00', '2020-01-01 10:00:00.1235'],
    ['2030-01-01T00:00:00', '2020-01-01 10:00:00+14:00', '2020-01-01 10:00:00.1233'],
    ['2030-01-01 23:00:00', '2020-01-01 08:00:00-11:00', '2020-01-01 10:00:00.1236']
  ]
  // As datetimes: chronological extremes (first occurrence on ties: 10:00:00.123 is all four).
  const { prof: dt } = await profileOf(t, header, rows)
  t.same(dt.columnStats.map((c) => [c.type, c.min, c.max]), [
    ['datetime', '1990-01-01 00:00:00', '2030-01-01 23:00:00'],
    ['datetime', '2020-01-01 10:00:00+14:00', '2020-01-01 09:00:00-11:00'],
    ['datetime', '2020-01-01 10:00:00.1234', '2020-01-01 10:00:00.1234']
  ])
  // One text cell more: byte-order extremes over every cell.
  const { prof: text } = await profileOf(t, header, [...rows, ['~', '~', '~']])
  t.same(text.columnStats.map((c) => [c.type, c.min, c.max]), [
    ['string', '1990-01-01 00:00:00', '~'],
    ['string', '2020-01-01 08:00:00-11:00', '~'],
    ['string', '2020-01-01 10:00:00.1233', '~']
  ])
  const { prof: first } = await profileOf(t, header, [['!', '!', '!'], ...rows])
  t.same(first.columnStats.map((c) => [c.min, c.max]), [
    ['!', '2030-01-01T00:00:00'],
    ['!', '2020-01-01 10:00:00+14:00'],
    ['!', '2020-01-01 10:00:00.1236']
  ])
  const { prof: last } = await profileOf(t, header, [...rows, ['!', '!', '!']])
  t.same(last.columnStats.map((c) => [c.min, c.max]), first.columnStats.map((c) => [c.min, c.max]), 'text at the end: the same byte-order extremes')
})
