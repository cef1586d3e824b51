import { CsvWorkerPool, profileCsvParallel, sniffCsv } from '../../src/csv/index.ts'
const path = process.argv[2]!
const pool = new CsvWorkerPool({ size: Number(process.argv[3] ?? 2) })
const pv = await sniffCsv(path)
for (let i = 0; i < 2; i++) {
  const t0 = performance.now()
  let first = 0
  let ranges = 0
  const cpu0 = process.cpuUsage()
  await profileCsvParallel(path, pv, { pool, onProgress: () => { first ||= performance.now() - t0 }, onRanges: () => { ranges = performance.now() - t0 } })
  const cpu = process.cpuUsage(cpu0)
  console.log(`run ${i}: first progress ${first.toFixed(0)} ms, ranges done ${ranges.toFixed(0)} ms, total ${(performance.now() - t0).toFixed(0)} ms, cpu ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms`)
}
await pool.close()
