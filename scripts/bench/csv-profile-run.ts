// One profiling run of the jobcast CSV engine, for scripts/bench/csv-profile.ts (a child process
// so its peak RSS is its own, worker threads included). Prints one JSON line: wall time, rows,
// peak RSS, distinct counts.
// usage: node --import tsx scripts/bench/csv-profile-run.ts data.csv OUTDIR [parallel|single] [workers]

import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { CsvWorkerPool, profileCsv, profileCsvParallel, sniffCsv, writeProfileParquet } from '../../src/csv/index.ts'

const [path, outdir, mode = 'parallel', workersArg] = process.argv.slice(2)
if (path === undefined || outdir === undefined) throw new Error('usage: csv-profile-run.ts data.csv OUTDIR [parallel|single] [workers]')
const t0 = performance.now()
const preview = await sniffCsv(path)
let chunks = 0
const pool = new CsvWorkerPool({ size: Number(workersArg ?? availableParallelism()) })
const profile = mode === 'single'
  ? await profileCsv(path, preview, { onChunk: () => { chunks++ } })
  : await profileCsvParallel(path, preview, { pool, onProgress: () => { chunks++ } })
const profiledMs = performance.now() - t0
await writeProfileParquet(outdir, profile)
const ms = performance.now() - t0
await pool.close()
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
console.log(JSON.stringify({
  ms,
  profiledMs,
  rows: profile.rows,
  malformed: profile.malformedRows,
  chunks,
  peakRssMb: hwm === null ? null : Number(hwm[1]) / 1024,
  distinct: Object.fromEntries(profile.columnStats.map((c) => [c.name, c.distinct])),
  types: Object.fromEntries(profile.columnStats.map((c) => [c.name, c.type]))
}))
