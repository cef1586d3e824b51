// CSV profiling benchmark: jobcast's engine vs DuckDB's exact profile (and pandas chunked when
// python3-pandas is installed), side by side on the same generated files, each in its own child
// process. Reports MB/s and peak RSS (GNU time's max resident set size), medians over runs.
//
// usage: node --import tsx scripts/bench/csv-profile.ts [sizesMB=100,1000] [runs=3] [runsBig=1]
// env:   BENCH_DIR  (default ../shared/bench beside the repo: gen-csv.mjs, duckdb-profile.mjs, pandas-chunked.py)
//        DATA_DIR   (default /tmp/jobcast-csv-bench: generated files, kept between runs)
//        ONLY       (comma list of engines: jobcast,duckdb,pandas)

import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const benchDir = process.env.BENCH_DIR ?? resolve(repo, '../shared/bench')
const dataDir = process.env.DATA_DIR ?? '/tmp/jobcast-csv-bench'
const sizes = (process.argv[2] ?? '100,1000').split(',').map(Number)
const runs = Number(process.argv[3] ?? 3)
const runsBig = Number(process.argv[4] ?? 1)
const only = new Set((process.env.ONLY ?? 'jobcast,duckdb,pandas').split(','))
const TIMEOUT_MS = 15 * 60_000

mkdirSync(dataDir, { recursive: true })
// duckdb-profile.mjs imports @duckdb/node-api; ESM ignores NODE_PATH, so run a copy from inside
// node_modules where the package resolves.
const duckScript = join(repo, 'node_modules/.cache/jobcast-bench/duckdb-profile.mjs')
mkdirSync(dirname(duckScript), { recursive: true })
copyFileSync(join(benchDir, 'duckdb-profile.mjs'), duckScript)
// pandas-chunked.py is meant for Debian's python3 (python3-pandas), not a pyenv shim.
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'
const hasPandas = spawnSync(python, ['-c', 'import pandas'], { stdio: 'ignore' }).status === 0

interface Run { seconds: number, peakMb: number, out: string }

function timed (cmd: string, args: string[]): Run {
  const t0 = performance.now()
  const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS_KB %M', cmd, ...args], { cwd: repo, encoding: 'utf8', timeout: TIMEOUT_MS, maxBuffer: 1 << 26 })
  const seconds = (performance.now() - t0) / 1000
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${String(r.status)}): ${r.stderr.slice(-2000)}`)
  const kb = /MAXRSS_KB (\d+)/.exec(r.stderr)
  return { seconds, peakMb: kb === null ? NaN : Number(kb[1]) / 1024, out: r.stdout }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const engines: Record<string, (file: string, out: string) => string[]> = {
  jobcast: (file, out) => [process.execPath, '--import', 'tsx', 'scripts/bench/csv-profile-run.ts', file, out],
  duckdb: (file, out) => [process.execPath, duckScript, 'profile', file, out],
  pandas: (file, out) => [python, join(benchDir, 'pandas-chunked.py'), file, '10000', out]
}

const results: string[] = []
for (const mb of sizes) {
  const file = join(dataDir, `data-${mb}mb.csv`)
  if (!existsSync(file)) {
    console.error(`generating ${file}`)
    const g = spawnSync(process.execPath, [join(benchDir, 'gen-csv.mjs'), file, String(mb * 1_000_000), '42'], { stdio: 'inherit' })
    if (g.status !== 0) throw new Error('gen-csv failed')
  }
  const bytes = statSync(file).size
  const n = mb >= 500 ? runsBig : runs
  let duckDistinct: Record<string, number> | null = null
  let ourDistinct: Record<string, number> | null = null
  const names = Object.keys(engines).filter((e) => only.has(e) && (e !== 'pandas' || hasPandas))
  const times = new Map<string, number[]>(names.map((e) => [e, []]))
  const peaks = new Map<string, number[]>(names.map((e) => [e, []]))
  const inner: number[] = []
  // Engines take turns within each round so that background load hits them alike.
  for (let i = 0; i < n; i++) {
    for (const name of names) {
      const out = join(dataDir, `out-${name}`)
      rmSync(out, { recursive: true, force: true })
      const [cmd, ...args] = engines[name]!(file, out)
      const r = timed(cmd!, args)
      times.get(name)!.push(r.seconds)
      peaks.get(name)!.push(r.peakMb)
      if (name === 'jobcast') {
        const o = JSON.parse(r.out.trim().split('\n').at(-1)!) as { ms: number, distinct: Record<string, number> }
        ourDistinct = o.distinct
        inner.push(o.ms / 1000)
      }
      if (name === 'duckdb') {
        const stats = (JSON.parse(r.out.trim().split('\n')[0]!) as { stats: Array<{ column: string, distinct: number }> }).stats
        duckDistinct = Object.fromEntries(stats.map((s) => [s.column, s.distinct]))
      }
      console.error(`${name} ${mb} MB run ${i + 1}/${n}: ${r.seconds.toFixed(2)} s, ${(bytes / 1e6 / r.seconds).toFixed(1)} MB/s, peak ${r.peakMb.toFixed(0)} MB`)
    }
  }
  for (const name of names) {
    const s = median(times.get(name)!)
    const p = peaks.get(name)!
    results.push(`| ${mb} MB | ${name} | ${n} | ${s.toFixed(2)} s | ${(bytes / 1e6 / s).toFixed(1)} MB/s | ${median(p).toFixed(0)} MB (max ${Math.max(...p).toFixed(0)}) |`)
    if (name === 'jobcast') {
      const si = median(inner)
      results.push(`| ${mb} MB | jobcast, in-process (no node/tsx start-up) | ${n} | ${si.toFixed(2)} s | ${(bytes / 1e6 / si).toFixed(1)} MB/s | |`)
    }
  }
  if (duckDistinct !== null && ourDistinct !== null) {
    const errs = Object.entries(duckDistinct).map(([c, d]) => [c, d === 0 ? 0 : Math.abs((ourDistinct![c] ?? NaN) - d) / d] as const)
    const worst = errs.reduce((a, b) => (b[1] > a[1] ? b : a))
    results.push(`| ${mb} MB | distinct vs DuckDB exact | | | worst ${(worst[1] * 100).toFixed(2)}% (${worst[0]}) | |`)
  }
}
console.log('| file | engine | runs | median time | median MB/s | peak RSS |')
console.log('| --- | --- | --- | --- | --- | --- |')
for (const r of results) console.log(r)
