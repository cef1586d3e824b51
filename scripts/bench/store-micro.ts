// What the SQLite job store costs one no-op job (insert, claim, then the `completed` update), in µs
// per job, on a fresh data folder, by how many jobs share a commit: 1 (each write committed alone, as one
// producer awaiting each start at low load sees it) up to BATCHES (as the group commit of a busy turn does).
// PRAGMAS (`;`-separated) are applied after opening, to compare settings.
//
//   node --import tsx scripts/bench/store-micro.ts   (env: N=20000 BATCHES=1,10,100 PRAGMAS="wal_autocheckpoint = 1000")
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { newId } from '../../src/lib/ids.ts'
import { openDatabase } from '../../src/adapters/sqlite/database.ts'
import { SqliteJobStore } from '../../src/adapters/sqlite/sqlite-job-store.ts'
import type { JobRecord } from '../../src/core/model.ts'
import { envInt, envInts, fmt } from './lib.ts'

const N = envInt('N', 20_000)
const dir = mkdtempSync(join(tmpdir(), 'jobcast-bench-'))
const db = openDatabase(dir)
for (const p of (process.env.PRAGMAS ?? '').split(';').map((s) => s.trim()).filter((s) => s !== '')) db.pragma(p)
const store = new SqliteJobStore(db)
const record = (id: string): JobRecord => ({
  id, type: 'noop', owner: 'bench', state: 'queued', input: {}, progress: null, result: null, error: null, preview: null,
  files: [], checkpoint: null, attempt: 1, maxAttempts: 1, createdAt: Date.now(), startedAt: null, finishedAt: null,
  runAt: Date.now(), batchId: null, idempotencyKey: null, requestHash: null, lease: null, version: 1
})
const bounds = { userConcurrency: 1_000_000, typeConcurrency: () => undefined }

console.log(`# store cost per no-op job, N=${N}, pragmas: ${process.env.PRAGMAS ?? '(none)'}`)
for (const batch of envInts('BATCHES', [1, 10, 100])) {
  const ids = Array.from({ length: N }, () => newId())
  const t = performance.now()
  for (let i = 0; i < N; i += batch) {
    const group = ids.slice(i, i + batch)
    // The three commits of a job's life (accepted, started, finished), each shared by the whole group.
    await Promise.all(group.map(async (id) => await store.insertOrGet(record(id), { maxQueued: Infinity })))
    const running = store.claimNow('bench-node', group.length, bounds, 30_000)
    store.flush()
    for (const job of running) store.updateNow(job, { state: 'completed', progress: null, result: null, error: null, finishedAt: Date.now(), lease: null })
    store.flush()
  }
  console.log(`${`${batch} job(s) per commit`.padEnd(22)} ${fmt(((performance.now() - t) * 1000) / N, 1).padStart(7)} µs/job`)
}
db.close()
rmSync(dir, { recursive: true, force: true })
