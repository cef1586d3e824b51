// Job throughput, side by side in one run: jobcast (in process, SQLite store; scripts/bench/throughput-jobcast.ts)
// and BullMQ on the local Redis (/work/shared/bench/bullmq/e2e.mjs), both adding N no-op jobs and processing
// them at concurrency 1/10/100, jobs/s from the first add to the last completion. Each round runs every
// setting once, in a fresh child process per tool; the order of the tools alternates between rounds so that
// slow phases of this shared machine hit both alike. Medians of RUNS rounds.
//
// BEFORE_DIR=<a checkout of an earlier commit> adds that build of jobcast to every round, to compare a change.
//
//   node --import tsx scripts/bench/run-core.ts
//   (env: RUNS=3 N=20000 CONC=1,10,100 REDIS_PORT=6379 BULLMQ_DIR=/work/shared/bench/bullmq BEFORE_DIR= JSON_OUT=<file>)
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { envInt, envInts, fmt, lastJson, median, runChild } from './lib.ts'
import type { ThroughputRun } from './throughput-jobcast.ts'

const RUNS = envInt('RUNS', 3)
const N = envInt('N', 20_000)
const CONC = envInts('CONC', [1, 10, 100])
const BULLMQ_DIR = process.env.BULLMQ_DIR ?? '/work/shared/bench/bullmq'
const REDIS_PORT = process.env.REDIS_PORT ?? '6379'
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CHILD_TIMEOUT_MS = 15 * 60_000
const BEFORE_DIR = process.env.BEFORE_DIR

interface BullRow { removeOnComplete: boolean, concurrency: number, endToEnd: { median: number } }

async function jobcastRound (root = ROOT): Promise<ThroughputRun[]> {
  const { code, stdout } = await runChild('jobcast', process.execPath, ['--import', 'tsx', 'scripts/bench/throughput-jobcast.ts'], {
    cwd: root,
    env: { ...process.env, N: String(N), CONC: CONC.join(','), RUNS: '1' },
    timeoutMs: CHILD_TIMEOUT_MS
  })
  const out = lastJson<{ jobcast: { runs: ThroughputRun[] } }>(stdout, 'jobcast')
  if (code !== 0 || out === undefined) throw new Error(`the jobcast run failed (exit ${code})`)
  return out.jobcast.runs
}

async function bullmqRound (): Promise<BullRow[]> {
  const { code, stdout } = await runChild('bullmq', process.execPath, ['e2e.mjs'], {
    cwd: BULLMQ_DIR,
    env: { ...process.env, REDIS_PORT, RUNS: '1', N: String(N), CONC: CONC.join(','), ROC: 'true,false' },
    timeoutMs: CHILD_TIMEOUT_MS
  })
  const file = /# results written to (\S+)/.exec(stdout)?.[1]
  if (code !== 0 || file === undefined) throw new Error(`the BullMQ run failed (exit ${code})`)
  return (JSON.parse(readFileSync(file, 'utf8')) as { results: BullRow[] }).results
}

/** One row of the table: medians over the rounds, jobs/s. */
export interface CoreRow {
  concurrency: number
  jobcast: number[]
  /** The build in BEFORE_DIR, when given. */
  before: number[]
  bullmqRemoveOnComplete: number[]
  bullmqKeep: number[]
}

/** Runs the comparison; prints the per-round figures and the table of medians. */
export async function runCore (): Promise<CoreRow[]> {
  if (!existsSync(join(BULLMQ_DIR, 'node_modules', 'bullmq'))) throw new Error(`BullMQ is not installed in ${BULLMQ_DIR}: run \`npm install\` there once`)
  console.log(`# job throughput, no-op jobs, N=${N}, concurrency ${CONC.join('/')}, ${RUNS} rounds; jobcast in process (SQLite) vs BullMQ (Redis 127.0.0.1:${REDIS_PORT}); node ${process.version}`)
  const rows: CoreRow[] = CONC.map((c) => ({ concurrency: c, jobcast: [], before: [], bullmqRemoveOnComplete: [], bullmqKeep: [] }))
  for (let r = 0; r < RUNS; r++) {
    const tools = BEFORE_DIR === undefined ? ['jobcast', 'bullmq'] : ['jobcast', 'before', 'bullmq']
    const order = r % 2 === 0 ? tools : [...tools].reverse()
    for (const tool of order) {
      if (tool === 'before') {
        for (const x of await jobcastRound(BEFORE_DIR)) rows.find((row) => row.concurrency === x.concurrency)?.before.push(x.endToEnd)
      } else if (tool === 'jobcast') {
        for (const x of await jobcastRound()) rows.find((row) => row.concurrency === x.concurrency)?.jobcast.push(x.endToEnd)
      } else {
        for (const x of await bullmqRound()) {
          const row = rows.find((row) => row.concurrency === x.concurrency)
          row?.[x.removeOnComplete ? 'bullmqRemoveOnComplete' : 'bullmqKeep'].push(x.endToEnd.median)
        }
      }
    }
    console.log(`round ${r + 1}: ` + rows.map((row) => `c=${row.concurrency} jobcast ${fmt(row.jobcast.at(-1)!)} /s, BullMQ ${fmt(row.bullmqKeep.at(-1)!)} /s (removeOnComplete ${fmt(row.bullmqRemoveOnComplete.at(-1)!)} /s)`).join('; '))
  }
  const span = (xs: number[]): string => `${fmt(median(xs)).padStart(6)} (${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))})`
  console.log(`\nmedians of ${RUNS} rounds, jobs/s from first add to last completion (min..max)`)
  console.log('conc  jobcast SQLite          BullMQ keep jobs        BullMQ removeOnComplete  jobcast / BullMQ (keep, remove)')
  if (BEFORE_DIR !== undefined) {
    for (const row of rows) console.log(`c=${row.concurrency}: before ${span(row.before)}, now ${span(row.jobcast)} (${fmt(median(row.jobcast) / median(row.before), 2)}x)`)
  }
  for (const row of rows) {
    const j = median(row.jobcast)
    console.log(`${String(row.concurrency).padEnd(5)} ${span(row.jobcast).padEnd(23)} ${span(row.bullmqKeep).padEnd(23)} ${span(row.bullmqRemoveOnComplete).padEnd(24)} ` +
      `${fmt(j / median(row.bullmqKeep), 2)}x, ${fmt(j / median(row.bullmqRemoveOnComplete), 2)}x`)
  }
  if (process.env.JSON_OUT !== undefined) writeFileSync(process.env.JSON_OUT, JSON.stringify({ N, RUNS, CONC, rows }, null, 2))
  return rows
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runCore()
