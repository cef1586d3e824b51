// A CSV profile's memory on the built server, as `npm start` runs it: uploads FILE to csv-profile, polls the job and
// /healthz every 50 ms (as test/hardening/csv-memory.test.ts does), samples the server's VmRSS every 50 ms, and
// prints its idle, after-upload and peak figures (VmHWM). Run `npm run build` first: it starts dist/cli.js.
// docs/BENCHMARKS.md ("CSV: memory of a 30,000-column profile").
// usage: node --import tsx scripts/bench/csv-server-memory.ts FILE [rounds=1]
//   FILE: e.g. the 30,000-column file of scripts/bench/csv-wide-memory.ts's usage.

import { spawn } from 'node:child_process'
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const [path, roundsArg] = process.argv.slice(2)
if (path === undefined) throw new Error('usage: csv-server-memory.ts FILE [rounds=1]')
const TOKEN = 'bench-csv-memory-token-0123456789'
const AUTH = { authorization: `Bearer ${TOKEN}` }

// A field of /proc/PID/status, in MiB.
const status = (pid: number, field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024

// Streams FILE as the multipart upload of a csv-profile start; resolves with the job id.
async function upload (url: string): Promise<string> {
  const boundary = 'benchcsvmemory'
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.csv"\r\nContent-Type: text/csv\r\n\r\n`
  const tail = `\r\n--${boundary}--\r\n`
  const length = Buffer.byteLength(head) + statSync(path!).size + Buffer.byteLength(tail)
  return await new Promise((resolve, reject) => {
    const req = request(`${url}/api/jobs/csv-profile`, { method: 'POST', headers: { ...AUTH, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': length } }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => {
        if (res.statusCode === 202) resolve((JSON.parse(body) as { id: string }).id)
        else reject(new Error(`upload answered ${res.statusCode}: ${body}`))
      })
    })
    req.on('error', reject)
    req.write(head)
    const file = createReadStream(path!)
    file.on('end', () => { req.end(tail) })
    file.pipe(req, { end: false })
  })
}

async function round (): Promise<{ idle: number, uploaded: number, peak: number, seconds: number, state: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'csv-server-memory-'))
  const port = 20_000 + Math.floor(Math.random() * 10_000)
  const server = spawn(process.execPath, ['dist/cli.js', 'serve'], {
    env: { ...process.env, NODE_OPTIONS: '', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', JOBCAST_DATA_DIR: dir, JOBCAST_TOKENS: `bench:${TOKEN}`, JOBCAST_CSV_WORKERS: '2' },
    stdio: ['ignore', 'inherit', 'inherit']
  })
  const url = `http://127.0.0.1:${port}`
  try {
    const deadline = Date.now() + 30_000
    for (;;) {
      try { await (await fetch(`${url}/healthz`)).arrayBuffer(); break } catch (err) {
        if (Date.now() > deadline) throw err
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    const pid = server.pid!
    const idle = status(pid, 'VmRSS')
    const started = performance.now()
    const id = await upload(url)
    const uploaded = status(pid, 'VmRSS')
    const end = Date.now() + 600_000
    let state = 'queued'
    while (!['completed', 'failed', 'canceled'].includes(state)) {
      if (Date.now() > end) throw new Error('the profile did not finish in 10 minutes')
      await (await fetch(`${url}/healthz`)).arrayBuffer()
      state = ((await (await fetch(`${url}/api/jobs/${id}`, { headers: AUTH })).json()) as { state: string }).state
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return { idle, uploaded, peak: status(pid, 'VmHWM'), seconds: (performance.now() - started) / 1000, state }
  } finally {
    server.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
}

for (let i = 0; i < Number(roundsArg ?? 1); i++) {
  const r = await round()
  console.log(JSON.stringify({ file: path, state: r.state, idleMiB: Math.round(r.idle), uploadedMiB: Math.round(r.uploaded), peakMiB: Math.round(r.peak), seconds: Number(r.seconds.toFixed(1)) }))
}
