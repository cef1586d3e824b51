// One profiling run of the jobcast CSV engine, for scripts/bench/csv-profile.ts (a child process
// so its peak RSS is its own). Prints one JSON line: wall time, rows, peak RSS, distinct counts.
// usage: node --import tsx scripts/bench/csv-profile-run.ts data.csv OUTDIR

import { readFileSync } from 'node:fs'
import { profileCsv, sniffCsv, writeProfileParquet } from '../../src/csv/index.ts'

const [path, outdir] = process.argv.slice(2)
if (path === undefined || outdir === undefined) throw new Error('usage: csv-profile-run.ts data.csv OUTDIR')
const t0 = performance.now()
const preview = await sniffCsv(path)
let chunks = 0
const profile = await profileCsv(path, preview, { onChunk: () => { chunks++ } })
await writeProfileParquet(outdir, profile)
const ms = performance.now() - t0
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
console.log(JSON.stringify({
  ms,
  rows: profile.rows,
  malformed: profile.malformedRows,
  chunks,
  peakRssMb: hwm === null ? null : Number(hwm[1]) / 1024,
  distinct: Object.fromEntries(profile.columnStats.map((c) => [c.name, c.distinct])),
  types: Object.fromEntries(profile.columnStats.map((c) => [c.name, c.type]))
}))
