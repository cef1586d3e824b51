// Per-statement cost of the SQLite job store, in µs per call, on a fresh data folder: what one no-op job
// costs the store (insert, get, two updates, the artifacts read of a finished job), one statement kind at a
// time over N jobs. PRAGMAS (`;`-separated) are applied after opening, to compare settings.
//
//   node --import tsx scripts/bench/store-micro.ts   (env: N=20000 PRAGMAS="locking_mode = EXCLUSIVE")
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { newId } from '../../src/lib/ids.ts'
import { openDatabase } from '../../src/store/database.ts'
import { SqliteJobStore } from '../../src/store/sqlite-job-store.ts'
import type { JobRecord } from '../../src/store/types.ts'
import { envInt, fmt } from './lib.ts'

const N = envInt('N', 20_000)
const dir = mkdtempSync(join(tmpdir(), 'jobcast-bench-'))
const db = openDatabase(dir)
for (const p of (process.env.PRAGMAS ?? '').split(';').map((s) => s.trim()).filter((s) => s !== '')) db.pragma(p)
const store = new SqliteJobStore(db)
const ids = Array.from({ length: N }, () => newId())
const record = (id: string): JobRecord => ({
  id, type: 'noop', owner: 'bench', state: 'queued', input: {}, progress: null, result: null, error: null, preview: null,
  files: [], checkpoint: null, attempt: 1, maxAttempts: 1, createdAt: Date.now(), startedAt: null, finishedAt: null,
  runAt: Date.now(), batchId: null, idempotencyKey: null, requestHash: 'x', version: 1
})
const time = (label: string, fn: (id: string) => void): void => {
  const t = performance.now()
  for (const id of ids) fn(id)
  console.log(`${label.padEnd(22)} ${fmt(((performance.now() - t) * 1000) / N, 1).padStart(7)} µs`)
}
console.log(`# store statements, N=${N}, pragmas: ${process.env.PRAGMAS ?? '(none)'}`)
time('insert', (id) => { store.insert(record(id)) })
time('get', (id) => { store.get(id) })
time('update running', (id) => { store.update(id, { state: 'running', startedAt: Date.now() }) })
time('update completed', (id) => { store.update(id, { state: 'completed', progress: null, result: null, error: null, finishedAt: Date.now() }) })
time('artifacts', (id) => { store.artifacts(id) })
time('SELECT 1', () => { db.prepare('SELECT 1').get() })
// The same five calls in a job's order, on fresh ids: what the store costs one no-op job.
const more = Array.from({ length: N }, () => newId())
ids.splice(0, ids.length, ...more)
time('one job (5 calls)', (id) => {
  store.insert(record(id))
  store.get(id)
  store.update(id, { state: 'running', startedAt: Date.now() })
  store.update(id, { state: 'completed', progress: null, result: null, error: null, finishedAt: Date.now() })
  store.artifacts(id)
})
// Upper bound of what batching commits could give: the same five calls, BATCH jobs per transaction.
const batch = envInt('BATCH', 10)
ids.splice(0, ids.length, ...Array.from({ length: N }, () => newId()))
const t = performance.now()
for (let i = 0; i < N; i += batch) {
  store.transaction(() => {
    for (const id of ids.slice(i, i + batch)) {
      store.insert(record(id))
      store.get(id)
      store.update(id, { state: 'running', startedAt: Date.now() })
      store.update(id, { state: 'completed', progress: null, result: null, error: null, finishedAt: Date.now() })
      store.artifacts(id)
    }
  })
}
console.log(`${`one job, ${batch}/tx`.padEnd(22)} ${fmt(((performance.now() - t) * 1000) / N, 1).padStart(7)} µs`)
db.close()
rmSync(dir, { recursive: true, force: true })
