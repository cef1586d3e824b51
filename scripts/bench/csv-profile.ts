// CSV profiling benchmark: jobcast's engine vs DuckDB's exact profile (and pandas chunked when
// python3-pandas is installed), side by side on the same generated files, each in its own child
// process. Reports MB/s and peak RSS (GNU time's max resident set size, worker threads included),
// medians over runs. jobcast runs as shipped: compiled with tsc (to BUILD_DIR), its workers
// loading plain .js; `jobcast-1t` is the single-threaded engine (profileCsv) for comparison.
//
// usage: node --import tsx scripts/bench/csv-profile.ts [files=100,1000,narrow] [runs=3] [runsBig=1]
//        (a number is a gen-csv.mjs file of that many MB; `narrow` is gen-narrow-csv.ts's 3M-row table)
// env:   BENCH_DIR  (default ../shared/bench beside the repo: gen-csv.mjs, duckdb-profile.mjs, pandas-chunked.py)
//        DATA_DIR   (default /tmp/jobcast-csv-bench: generated files, kept between runs)
//        BUILD_DIR  (default DATA_DIR/dist: the compiled sources)
//        ONLY       (comma list of engines: jobcast,jobcast-1t,duckdb,pandas)
//        WORKERS    (jobcast's worker threads; default os.availableParallelism())
//        PREV_BUILD (a build of an earlier version, e.g. BUILD_DIR of an earlier run: adds the engines
//                    jobcast-prev and jobcast-1t-prev, side by side with this one; add them to ONLY)

import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const benchDir = process.env.BENCH_DIR ?? resolve(repo, '../shared/bench')
const dataDir = process.env.DATA_DIR ?? '/tmp/jobcast-csv-bench'
const files = (process.argv[2] ?? '100,1000,narrow').split(',')
const runs = Number(process.argv[3] ?? 3)
const runsBig = Number(process.argv[4] ?? 1)
const only = new Set((process.env.ONLY ?? 'jobcast,jobcast-1t,duckdb,pandas').split(','))
const workers = process.env.WORKERS ?? String(availableParallelism())
const buildDir = process.env.BUILD_DIR ?? join(dataDir, 'dist')
const TIMEOUT_MS = 15 * 60_000

mkdirSync(dataDir, { recursive: true })
// The package as it will ship: tsc output, .js next to each other (workers load range-worker.js).
console.error(`compiling to ${buildDir}`)
const tsc = spawnSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', join(repo, 'tsconfig.json'), '--noEmit', 'false', '--outDir', buildDir,
  '--rootDir', repo, '--rewriteRelativeImportExtensions', '--declaration', 'false'], { stdio: 'inherit' })
if (tsc.status !== 0) throw new Error('tsc failed')
copyFileSync(join(repo, 'package.json'), join(buildDir, 'package.json'))
if (!existsSync(join(buildDir, 'node_modules'))) symlinkSync(join(repo, 'node_modules'), join(buildDir, 'node_modules'))
const runner = join(buildDir, 'scripts/bench/csv-profile-run.js')
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
  jobcast: (file, out) => [process.execPath, runner, file, out, 'parallel', workers],
  'jobcast-1t': (file, out) => [process.execPath, runner, file, out, 'single'],
  duckdb: (file, out) => [process.execPath, duckScript, 'profile', file, out],
  pandas: (file, out) => [python, join(benchDir, 'pandas-chunked.py'), file, '10000', out]
}
const prev = process.env.PREV_BUILD
if (prev !== undefined) {
  const prevRunner = join(resolve(prev), 'scripts/bench/csv-profile-run.js')
  engines['jobcast-prev'] = (file, out) => [process.execPath, prevRunner, file, out, 'parallel', workers]
  engines['jobcast-1t-prev'] = (file, out) => [process.execPath, prevRunner, file, out, 'single']
}

const results: string[] = []
const loads: number[] = []
const started = new Date()
for (const name of files) {
  const narrow = name === 'narrow'
  const file = join(dataDir, narrow ? 'narrow-3m.csv' : `data-${name}mb.csv`)
  if (!existsSync(file)) {
    console.error(`generating ${file}`)
    const g = narrow
      ? spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'scripts/bench/gen-narrow-csv.ts'), file, '3000000', '7'], { stdio: 'inherit' })
      : spawnSync(process.execPath, [join(benchDir, 'gen-csv.mjs'), file, String(Number(name) * 1_000_000), '42'], { stdio: 'inherit' })
    if (g.status !== 0) throw new Error('generating the file failed')
  }
  const bytes = statSync(file).size
  const mb = narrow ? 'narrow 3M rows' : `${name} MB`
  const n = bytes >= 500e6 ? runsBig : runs
  let duckDistinct: Record<string, number> | null = null
  let ourDistinct: Record<string, number> | null = null
  const names = Object.keys(engines).filter((e) => only.has(e) && (e !== 'pandas' || hasPandas))
  const times = new Map<string, number[]>(names.map((e) => [e, []]))
  const peaks = new Map<string, number[]>(names.map((e) => [e, []]))
  // Engines take turns within each round so that background load hits them alike.
  for (let i = 0; i < n; i++) {
    for (const name of names) {
      const out = join(dataDir, `out-${name}`)
      rmSync(out, { recursive: true, force: true })
      const [cmd, ...args] = engines[name]!(file, out)
      loads.push(loadavg()[0]!)
      const r = timed(cmd!, args)
      times.get(name)!.push(r.seconds)
      peaks.get(name)!.push(r.peakMb)
      if (name === 'jobcast' || name === 'jobcast-1t') {
        ourDistinct = (JSON.parse(r.out.trim().split('\n').at(-1)!) as { distinct: Record<string, number> }).distinct
      }
      if (name === 'duckdb') {
        const stats = (JSON.parse(r.out.trim().split('\n')[0]!) as { stats: Array<{ column: string, distinct: number }> }).stats
        duckDistinct = Object.fromEntries(stats.map((s) => [s.column, s.distinct]))
      }
      console.error(`${name} ${mb} run ${i + 1}/${n}: ${r.seconds.toFixed(2)} s, ${(bytes / 1e6 / r.seconds).toFixed(1)} MB/s, peak ${r.peakMb.toFixed(0)} MB`)
    }
  }
  for (const name of names) {
    const s = median(times.get(name)!)
    const p = peaks.get(name)!
    results.push(`| ${mb} | ${name} | ${n} | ${s.toFixed(2)} s | ${(bytes / 1e6 / s).toFixed(1)} MB/s | ${median(p).toFixed(0)} MB (max ${Math.max(...p).toFixed(0)}) |`)
  }
  if (duckDistinct !== null && ourDistinct !== null) {
    const errs = Object.entries(duckDistinct).map(([c, d]) => [c, d === 0 ? 0 : Math.abs((ourDistinct![c] ?? NaN) - d) / d] as const)
    const worst = errs.reduce((a, b) => (b[1] > a[1] ? b : a))
    results.push(`| ${mb} | distinct vs DuckDB exact | | | worst ${(worst[1] * 100).toFixed(2)}% (${worst[0]}) | |`)
  }
}
const sorted = [...loads].sort((a, b) => a - b)
console.log(`${started.toISOString()}, ${workers} jobcast workers, 1-min load average at the runs' starts: ${sorted[0]!.toFixed(1)}–${sorted.at(-1)!.toFixed(1)} (median ${median(loads).toFixed(1)})`)
console.log('| file | engine | runs | median time | median MB/s | peak RSS |')
console.log('| --- | --- | --- | --- | --- | --- |')
for (const r of results) console.log(r)
