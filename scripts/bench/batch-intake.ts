// One request with 500 files totalling 500 MB (POST /api/batches/documents) against 500 single-file starts
// (the browser loop): time to the 202s and peak RSS while the upload streams. Run by hand:
//   node --import tsx scripts/bench/batch-intake.ts   (BENCH_FILES, BENCH_FILE_MB to change the shape)
import Fastify from 'fastify'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { request } from 'undici'
import jobcast from '../../src/plugin.ts'
import { envInt, fmt } from './lib.ts'

const FILES = envInt('BENCH_FILES', 500)
const FILE_BYTES = envInt('BENCH_FILE_MB', 1) * 1024 * 1024
const TOKEN = 'bench-token-0000001'
const CHUNK = Buffer.from('id,name,amount\n' + '1,abc,2.5\n'.repeat(6552)).subarray(0, 64 * 1024)

// The multipart body, generated as it is sent: the client holds one 64 KiB chunk at a time.
async function * multipart (boundary: string, files: number): AsyncIterable<Buffer> {
  for (let i = 0; i < files; i++) {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f${i}.csv"\r\nContent-Type: text/csv\r\n\r\n`)
    for (let sent = 0; sent < FILE_BYTES; sent += CHUNK.length) yield CHUNK.subarray(0, Math.min(CHUNK.length, FILE_BYTES - sent))
    yield Buffer.from('\r\n')
  }
  yield Buffer.from(`--${boundary}--\r\n`)
}

async function server (): Promise<{ base: string, close: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'jobcast-bench-batch-'))
  const app = Fastify({ logger: false })
  // Concurrency 1 and a paused runner would be fairer to the intake; the default shows it with work running too.
  await app.register(jobcast, { config: { dataDir, tokens: [{ user: 'bench', token: TOKEN }], logLevel: 'silent', batchMaxBytes: 4 * 1024 ** 3, maxQueuedPerUser: 100_000 } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  return { base: `http://127.0.0.1:${port}`, close: async () => { await app.close(); rmSync(dataDir, { recursive: true, force: true }) } }
}

function rssSampler (): { stop: () => number } {
  let peak = process.memoryUsage().rss
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 10)
  return { stop: () => { clearInterval(timer); return Math.max(peak, process.memoryUsage().rss) } }
}

async function batchRun (): Promise<{ ms: number, rssBefore: number, rssPeak: number }> {
  const { base, close } = await server()
  const boundary = 'jobcastbench' + Date.now()
  const rssBefore = process.memoryUsage().rss
  const sampler = rssSampler()
  const started = performance.now()
  const res = await request(`${base}/api/batches/documents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: Readable.from(multipart(boundary, FILES))
  })
  const body = await res.body.json() as { total: number }
  const ms = performance.now() - started
  const rssPeak = sampler.stop()
  if (res.statusCode !== 202 || body.total !== FILES) throw new Error(`batch answered ${res.statusCode}: ${JSON.stringify(body).slice(0, 200)}`)
  await close()
  return { ms, rssBefore, rssPeak }
}

async function loopRun (): Promise<{ ms: number, rssPeak: number }> {
  const { base, close } = await server()
  const sampler = rssSampler()
  const started = performance.now()
  for (let i = 0; i < FILES; i++) {
    const boundary = `jobcastbench${i}`
    const res = await request(`${base}/api/jobs/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: Readable.from(multipart(boundary, 1))
    })
    await res.body.dump()
    if (res.statusCode !== 202) throw new Error(`start ${i} answered ${res.statusCode}`)
  }
  const ms = performance.now() - started
  const rssPeak = sampler.stop()
  await close()
  return { ms, rssPeak }
}

const mb = (bytes: number): string => fmt(bytes / 1024 / 1024, 0)
const batch = await batchRun()
const loop = await loopRun()
console.log(`${FILES} files × ${mb(FILE_BYTES)} MiB = ${mb(FILES * FILE_BYTES)} MiB`)
console.log(`one batch request: 202 after ${fmt(batch.ms / 1000, 2)} s, RSS ${mb(batch.rssBefore)} → peak ${mb(batch.rssPeak)} MiB`)
console.log(`${FILES} single starts (the browser loop): last 202 after ${fmt(loop.ms / 1000, 2)} s, RSS peak ${mb(loop.rssPeak)} MiB`)
