// Upload ingest: a large CSV sent as multipart/form-data by curl (its own process) to a jobcast server (its own
// process, `jobcast serve` from src/cli.ts as shipped) on loopback. Measures upload-to-202 throughput (MB/s, the file streamed to
// disk and sniffed for the preview) and the server's peak RSS during the upload (sampled every 20 ms from
// /proc until the 202 arrives), for each size, so that growth with file size shows. A fresh server per run.
//
//   node --import tsx scripts/bench/upload-ingest.ts            (env: SIZES_MB=100,1000  RUNS=3)
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { envInt, envInts, fmt, killChild, median } from './lib.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const GEN = fileURLToPath(new URL('../../../shared/bench/gen-csv.mjs', import.meta.url))
const WORK = join(tmpdir(), 'jobcast-bench')
const TOKEN = 'bench-token-0001'
const MB = 1_000_000

const sizes = envInts('SIZES_MB', [100, 1000])
const runs = envInt('RUNS', 3)

function rssMiB (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024
}

async function run (command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  if (code !== 0) throw new Error(`${command} exited with ${code}`)
  return out
}

async function csvOf (megabytes: number): Promise<string> {
  mkdirSync(WORK, { recursive: true })
  const path = join(WORK, `data-${megabytes}mb.csv`)
  if (!existsSync(path)) await run(process.execPath, [GEN, path, String(megabytes * MB), '42'])
  return path
}

async function once (path: string): Promise<{ mbPerS: number, peakMiB: number, baseMiB: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobcast-ingest-'))
  const server = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', JOBCAST_DATA_DIR: dataDir, JOBCAST_TOKENS: `bench:${TOKEN}`, JOBCAST_CSV_MAX_BYTES: String(8 * 1024 ** 3), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let log = ''
      server.stdout.setEncoding('utf8').on('data', (d: string) => {
        log += d
        const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(log)
        if (match !== null) resolve(match[1]!)
      })
      server.once('exit', (code) => { reject(new Error(`server exited with ${code}`)) })
    })
    const baseMiB = rssMiB(server.pid!)
    let peakMiB = baseMiB
    const sampler = setInterval(() => { peakMiB = Math.max(peakMiB, rssMiB(server.pid!)) }, 20)
    const out = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', '-H', `Authorization: Bearer ${TOKEN}`,
      '-F', `file=@${path};type=text/csv`, `${url}/api/jobs/csv-profile`])
    clearInterval(sampler)
    peakMiB = Math.max(peakMiB, rssMiB(server.pid!))
    const [status, seconds] = out.trim().split(' ')
    if (status !== '202') throw new Error(`upload answered ${status}`)
    return { mbPerS: statSync(path).size / MB / Number(seconds), peakMiB, baseMiB }
  } finally {
    killChild(server)
    await new Promise((resolve) => server.once('close', resolve))
    rmSync(dataDir, { recursive: true, force: true })
  }
}

process.stdout.write(`upload ingest, ${runs} run(s) per size, fresh server each run\n`)
process.stdout.write('size MB | MB/s (median) | server RSS before | peak RSS during upload (median)\n')
for (const size of sizes) {
  const path = await csvOf(size)
  const results = []
  for (let i = 0; i < runs; i++) results.push(await once(path))
  process.stdout.write(`${size} | ${fmt(median(results.map((r) => r.mbPerS)), 0)} | ${fmt(median(results.map((r) => r.baseMiB)), 0)} MiB | ${fmt(median(results.map((r) => r.peakMiB)), 0)} MiB\n`)
}
