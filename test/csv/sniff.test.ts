import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { CsvError, sniffBuffer, sniffCsv } from '../../src/csv/index.ts'
import { detectEncoding, SNIFF_BYTES } from '../../src/csv/sniff.ts'
import { encode1252 } from './helpers.ts'

test('detects each delimiter, even with the others inside quoted or free text', async (t) => {
  for (const d of [',', ';', '\t', '|']) {
    const others = [',', ';', '|'].filter((x) => x !== d).join(' ')
    const lines = [['name', 'note', 'n'].join(d)]
    for (let i = 0; i < 20; i++) lines.push([`n${i}`, `"a${d}b ${others}"`, String(i)].join(d))
    const p = sniffBuffer(Buffer.from(lines.join('\n') + '\n'), 1e9)
    t.equal(p.delimiter, d, JSON.stringify(d))
    t.same(p.header, ['name', 'note', 'n'])
    t.same(p.rows[0], ['n0', `a${d}b ${others}`, '0'])
    t.equal(p.rows.length, 5)
  }
})

test('Spanish decimals with semicolons pick the semicolon', async (t) => {
  const text = 'producto;precio\nPan;1,50\nLeche;0,99\nQueso;12,00\n'
  t.equal(sniffBuffer(Buffer.from(text), text.length).delimiter, ';')
})

test('encodings: UTF-8, UTF-8 with BOM, Windows-1252', async (t) => {
  const text = 'ciudad,año\nMálaga,2024\nCoruña,2023\n'
  const u = sniffBuffer(Buffer.from(text), 100)
  t.equal(u.encoding, 'utf-8')
  t.same(u.header, ['ciudad', 'año'])
  const bom = sniffBuffer(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]), 100)
  t.equal(bom.encoding, 'utf-8-bom')
  t.same(bom.header, ['ciudad', 'año'])
  const w = sniffBuffer(encode1252('nombre;nota\nJosé;“bien” €\n'), 100)
  t.equal(w.encoding, 'windows-1252')
  t.same(w.rows, [['José', '“bien” €']])
})

test('a UTF-8 character cut by the 64 KiB read limit is not taken for Windows-1252', async (t) => {
  const dir = t.testdir()
  const path = join(dir, 'big.csv')
  const line = 'a,ñandú,€\n'
  let text = 'x,y,z\n'
  while (Buffer.byteLength(text) < SNIFF_BYTES + 1000) text += line
  // Shift so that the limit falls inside a multi-byte character, with no newline to cut at.
  const head = Buffer.from('é'.repeat(SNIFF_BYTES) + ',b\n1,2\n')
  t.equal(detectEncoding(head.subarray(0, SNIFF_BYTES - 1), false), 'utf-8')
  t.equal(detectEncoding(head.subarray(0, SNIFF_BYTES - 1), true), 'windows-1252', 'a cut character at the real end is invalid')
  t.throws(() => sniffBuffer(head.subarray(0, SNIFF_BYTES), head.length), { code: 'NOT_CSV', message: /no complete row/ })
  writeFileSync(path, text)
  const p = await sniffCsv(path)
  t.equal(p.encoding, 'utf-8')
  t.equal(p.bytes, Buffer.byteLength(text))
})

test('binary files are refused with NOT_CSV and a reason', async (t) => {
  const dir = t.testdir()
  const png = join(dir, 'image.csv')
  writeFileSync(png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]))
  await t.rejects(sniffCsv(png), { code: 'NOT_CSV', message: /PNG image/ })
  const zip = join(dir, 'book.csv')
  writeFileSync(zip, Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(100, 1)]))
  await t.rejects(sniffCsv(zip), { code: 'NOT_CSV', message: /ZIP archive/ })
  const nul = join(dir, 'nul.csv')
  writeFileSync(nul, Buffer.from('a,b\n1,\u00002\n'))
  const err = await sniffCsv(nul).catch((e: unknown) => e)
  t.ok(err instanceof CsvError)
  t.match(err, { code: 'NOT_CSV', message: /NUL byte at offset 6/ })
  t.same((err as CsvError).toJSON(), { name: 'CsvError', code: 'NOT_CSV', message: (err as CsvError).message })
  const empty = join(dir, 'empty.csv')
  writeFileSync(empty, '')
  await t.rejects(sniffCsv(empty), { code: 'EMPTY_FILE' })
})

test('header names are made unique and non-empty', async (t) => {
  const p = sniffBuffer(Buffer.from('a,,a,b,a\n1,2,3,4,5\n'), 100)
  t.same(p.header, ['a', 'column_2', 'a_2', 'b', 'a_3'])
})

test('a header row wider than 64 KiB is found (up to 16 MiB); the preview stays small: fewer rows, cells and names cut at 256', async (t) => {
  const dir = t.testdir()
  const columns = 30_000
  const header = Array.from({ length: columns }, (_, i) => `column_number_${i}`).join(',')
  const row = Array.from({ length: columns }, (_, i) => String(i % 7)).join(',')
  const path = join(dir, 'wide.csv')
  writeFileSync(path, [header, row, row, row].join('\n') + '\n')
  t.ok(Buffer.byteLength(header) > SNIFF_BYTES, `a ${Buffer.byteLength(header)}-byte header`)
  const p = await sniffCsv(path)
  t.equal(p.header.length, columns)
  t.equal(p.header[29_999], 'column_number_29999')
  t.ok(p.rows.length >= 1 && p.rows.length < 3, `${p.rows.length} preview rows of ${columns} cells`)

  const long = join(dir, 'long.csv')
  writeFileSync(long, `${'n'.repeat(1000)},b\n${'v'.repeat(5000)},2\n`)
  const q = await sniffCsv(long)
  t.equal(q.header[0]!.length, 256, 'a long column name is cut')
  t.equal(q.rows[0]![0]!.length, 256, 'so is a long preview cell')
})
