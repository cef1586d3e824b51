import { test } from 'tap'
import { jsonArrayBytes, Utf8Sink } from '../../src/csv/utf8-sink.ts'

test('jsonArrayBytes is JSON.stringify of the array, in pieces of their own buffers', async (t) => {
  // Over 3 MiB of text with characters of 1 to 4 bytes, so pieces end next to multi-byte characters.
  const values = Array.from({ length: 20_000 }, (_, i) => ({ i, name: `c${i}`, text: 'aé€😀'.repeat(i % 40), none: null }))
  const pieces = jsonArrayBytes(values)
  t.ok(pieces.length > 2, `${pieces.length} pieces`)
  t.ok(pieces.every((p) => p.byteOffset === 0 && p.byteLength === p.buffer.byteLength), 'each piece is its whole buffer')
  t.equal(Buffer.concat(pieces).toString('utf8'), JSON.stringify(values))
  t.equal(Buffer.concat(jsonArrayBytes([])).toString(), '[]')
  t.equal(Buffer.concat(jsonArrayBytes([undefined, 1])).toString(), '[null,1]')
})

test('Utf8Sink hands on every byte in order, a text longer than its buffer whole', async (t) => {
  const out: Buffer[] = []
  const sink = new Utf8Sink((bytes) => { out.push(Buffer.from(bytes)) })
  const long = 'x'.repeat(2 << 20)
  const texts = ['héllo', long, '€'.repeat(300_000), 'end']
  for (const text of texts) sink.write(text)
  sink.end()
  sink.end()
  t.equal(Buffer.concat(out).toString('utf8'), texts.join(''))
})
