// `npm run bench`: every benchmark in turn, each in its own child process (bounded in time, loopback only).
// The core benches first (start latency, job throughput vs BullMQ), then the CSV and SSE benches when present
// (scripts/bench/csv-profile.ts and scripts/bench/sse-*.ts, written by their owners). Figures and the
// commands that produce them go to docs/BENCHMARKS.md, by hand.
//
//   npm run bench            (env: ONLY=start-latency,run-core,csv-profile,sse-... to pick; each bench's own env applies)
import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { runChild } from './lib.ts'

const HERE = fileURLToPath(new URL('./', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TIMEOUT_MS = 30 * 60_000

const core = ['start-latency.ts', 'run-core.ts']
// Placeholders for the other benches: picked up when their files exist.
const others = [
  'csv-profile.ts',
  ...readdirSync(HERE).filter((f) => f.startsWith('sse-') && f.endsWith('.ts')).sort()
]
const only = process.env.ONLY?.split(',').map((s) => s.trim().replace(/\.ts$/, ''))
const benches = [...core, ...others].filter((f) => existsSync(`${HERE}${f}`) && (only === undefined || only.includes(f.replace(/\.ts$/, ''))))

let failed = 0
for (const file of benches) {
  process.stdout.write(`\n=== ${file} ===\n`)
  const { code } = await runChild(file.replace(/\.ts$/, ''), process.execPath, ['--import', 'tsx', `scripts/bench/${file}`], { cwd: ROOT, timeoutMs: TIMEOUT_MS })
  if (code !== 0) { failed++; process.stdout.write(`${file} failed (exit ${code})\n`) }
}
process.exitCode = failed === 0 ? 0 : 1
