// The csv-profile job's path without HTTP, for memory: sniff, a parallel profile with a state folder, checkpoints,
// Parquet written by the finalizing worker and the columns as JSON (as the job asks), then the result's JSON written
// as the job's result.json would be. Samples this process's VmRSS (main thread and workers) every 50 ms and prints
// the peak and the phase it fell in. docs/BENCHMARKS.md ("CSV: memory of a 30,000-column profile").
// usage: node --import tsx scripts/bench/csv-wide-memory.ts FILE [workers=2]
//   FILE: e.g. the test's file, 30,000 columns of (r * 31 + i) % 1000 up to 70 MiB:
//   node -e "const fs=require('fs');const o=fs.createWriteStream('/tmp/wide.csv');const n=30000;o.write(Array.from({length:n},(_,i)=>'c'+i).join(',')+'\n');let b=0;for(let r=0;b<70*2**20;r++){const s=Array.from({length:n},(_,i)=>String((r*31+i)%1000)).join(',')+'\n';b+=s.length;o.write(s)}o.end()"

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CsvWorkerPool, profileCsvParallel, sniffCsv } from '../../src/csv/index.ts'

const [path, workersArg] = process.argv.slice(2)
if (path === undefined) throw new Error('usage: csv-wide-memory.ts FILE [workers=2]')
const out = join(tmpdir(), `csv-wide-memory-${process.pid}`)
mkdirSync(join(out, 'state'), { recursive: true })
const status = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024
let phase = 'sniff'
let peak = { mib: 0, phase }
const timer = setInterval(() => {
  const mib = status('VmRSS')
  if (mib > peak.mib) peak = { mib, phase }
}, 50)
const t0 = performance.now()
const mark = (next: string): void => {
  console.error(`${((performance.now() - t0) / 1000).toFixed(2)} s ${phase} done: VmRSS ${status('VmRSS').toFixed(0)} MiB`)
  phase = next
}
const preview = await sniffCsv(path)
mark('profile')
const pool = new CsvWorkerPool({ size: Number(workersArg ?? 2), nice: 10 })
const profile = await profileCsvParallel(path, preview, {
  pool,
  stateDir: join(out, 'state'),
  checkpointEveryMs: 2000,
  onCheckpoint: () => {},
  onProgress: () => {},
  parquet: { dir: out, written: () => {} },
  columnsJson: true
})
mark('result')
const { sample: _sample, columnStats: _columns, columnStatsJson, ...summary } = profile
writeFileSync(join(out, 'result.json'), Buffer.concat([Buffer.from(`${JSON.stringify({ summary }).slice(0, -1)},"columns":`), ...columnStatsJson ?? [Buffer.from('[]')], Buffer.from(',"resumedFromByte":0}')]))
mark('end')
clearInterval(timer)
await pool.close()
rmSync(out, { recursive: true, force: true })
console.log(JSON.stringify({ file: path, columns: profile.columns, rows: profile.rows, vmHwmMiB: Math.round(status('VmHWM')), sampledPeakMiB: Math.round(peak.mib), peakPhase: peak.phase, seconds: Number(((performance.now() - t0) / 1000).toFixed(1)) }))
