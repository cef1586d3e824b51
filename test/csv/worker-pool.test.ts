import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { getPriority } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { CsvWorkerPool, profileCsvParallel, sniffCsv } from '../../src/csv/index.ts'

// Nice value of each thread of this process (Linux: field 19 of /proc/self/task/TID/stat).
function threadNices (): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
  })
}

test('the pool\'s worker threads run at its nice value, the calling thread at its own', { skip: process.platform !== 'linux' && 'per-thread nice values are read from /proc' }, async (t) => {
  const path = join(t.testdir(), 'a.csv')
  writeFileSync(path, 'a,b\n1,x\n2,y\n')
  const pool = new CsvWorkerPool({ size: 1, nice: 7 })
  t.teardown(async () => { await pool.close() })
  const before = threadNices().filter((n) => n === 7).length
  const own = getPriority()
  const profile = await profileCsvParallel(path, await sniffCsv(path), { pool })
  t.equal(profile.rows, 2)
  // The worker stays alive (idle) after its task.
  t.equal(threadNices().filter((n) => n === 7).length, before + 1, 'one more thread at nice 7: the worker')
  t.equal(getPriority(), own, 'the calling thread keeps its own')
})
