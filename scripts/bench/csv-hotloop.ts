// The profile's hot loop alone: the whole file in memory, fed to a RowProcessor in passes of
// 1,024 rows as the range scan does, no I/O. Prints the CPU time of each pass and a digest of the
// resulting statistics (equal digests = equal statistics, to check that a change keeps them).
// usage: [CSV_SRC=dir] [CAP=n] node --import tsx scripts/bench/csv-hotloop.ts data.csv [passes=5]

import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

// CSV_SRC: another copy of src/csv to measure (e.g. the previous version), default this one.
const src = process.env.CSV_SRC === undefined ? new URL('../../src/csv/', import.meta.url) : pathToFileURL(resolve(process.env.CSV_SRC) + '/')
const { defaultDistinctCap } = await import(new URL('profile.ts', src).href) as typeof import('../../src/csv/profile.ts')
const { RowProcessor } = await import(new URL('row-processor.ts', src).href) as typeof import('../../src/csv/row-processor.ts')
const { sniffBuffer } = await import(new URL('sniff.ts', src).href) as typeof import('../../src/csv/sniff.ts')

const [path, passesArg] = process.argv.slice(2)
if (path === undefined) throw new Error('usage: csv-hotloop.ts data.csv [passes]')
const buf = readFileSync(path)
const preview = sniffBuffer(buf.subarray(0, 64 * 1024), buf.length)
const ncols = preview.header.length
// CAP: distinct cap (default as in a profile), e.g. smaller to take a part of a file past it.
const options = { delimiter: preview.delimiter, encoding: preview.encoding, columns: ncols, distinctCap: Number(process.env.CAP ?? defaultDistinctCap(ncols)), sampleRows: 1000 }
const start = preview.encoding === 'utf-8-bom' ? 3 : 0
const times: number[] = []
let digest = ''
for (let pass = 0; pass < Number(passesArg ?? 5); pass++) {
  const proc = new RowProcessor(options)
  const t0 = process.cpuUsage()
  let p = start
  while (p < buf.length) p = proc.process(buf, p, buf.length, true, 0, 1024)
  const t = process.cpuUsage(t0)
  times.push((t.user + t.system) / 1000)
  digest = createHash('sha256').update(JSON.stringify(proc.toState())).digest('hex').slice(0, 16)
}
const sorted = [...times].sort((a, b) => a - b)
console.log(JSON.stringify({ file: path, mb: buf.length / 1e6, passesMs: times.map(Math.round), medianMs: Math.round(sorted[sorted.length >> 1]!), minMs: Math.round(sorted[0]!), digest }))
