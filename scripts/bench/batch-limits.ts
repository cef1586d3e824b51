// 51 files against a fake external service that takes 3 s per call, with `limits: { key, concurrency: 3 }`:
// wall time from the 202 to the batch's end against the floor of ceil(51/3) × 3 s = 51 s, and the most calls the
// service saw at once. Run by hand: node --import tsx scripts/bench/batch-limits.ts
import Fastify from 'fastify'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Type } from 'typebox'
import { defineJob } from '../../src/core/define-job.ts'
import jobcast from '../../src/plugin.ts'
import { envInt, fmt } from './lib.ts'

const FILES = envInt('BENCH_FILES', 51)
const CALL_MS = envInt('BENCH_CALL_MS', 3000)
const CONCURRENCY = 3
const TOKEN = 'bench-token-0000001'

let inFlight = 0
let most = 0
const service = createServer((_req, res) => {
  inFlight++
  most = Math.max(most, inFlight)
  setTimeout(() => { inFlight--; res.end('{"ok":true}') }, CALL_MS)
})
await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve))
const serviceUrl = `http://127.0.0.1:${(service.address() as { port: number }).port}/validate`

const external = defineJob({
  type: 'external-check',
  input: Type.Object({}),
  files: { min: 1, max: 1, maxBytes: 1024 * 1024 },
  limits: { key: 'fake-sat', concurrency: CONCURRENCY },
  retry: { attempts: 3, baseMs: 1000 },
  async run (ctx) {
    const res = await fetch(serviceUrl, { method: 'POST', signal: ctx.signal })
    return { status: res.status }
  }
})

const dataDir = mkdtempSync(join(tmpdir(), 'jobcast-bench-limits-'))
const app = Fastify({ logger: false })
await app.register(jobcast, { config: { dataDir, tokens: [{ user: 'bench', token: TOKEN }], logLevel: 'silent', concurrency: 16, userConcurrency: 16 }, jobTypes: [external] })
await app.listen({ port: 0, host: '127.0.0.1' })
const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`

const form = new FormData()
for (let i = 0; i < FILES; i++) form.append('file', new Blob([`invoice ${i}`]), `f${i}.txt`)
const done = new Promise<void>((resolve) => {
  app.jobcast.service.events.subscribe((event) => {
    if (event.kind === 'batch' && (JSON.parse(event.data) as { done: boolean }).done) resolve()
  })
})
const res = await fetch(`${base}/api/batches/external-check`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: form })
if (res.status !== 202) throw new Error(`batch answered ${res.status}: ${await res.text()}`)
const started = performance.now()
await done
const wall = performance.now() - started
const floor = Math.ceil(FILES / CONCURRENCY) * CALL_MS
console.log(`${FILES} calls × ${CALL_MS / 1000} s, concurrency ${CONCURRENCY}: wall ${fmt(wall / 1000, 2)} s vs floor ${fmt(floor / 1000, 0)} s (+${fmt(((wall - floor) / floor) * 100, 1)} %), most at once ${most}`)
await app.close()
service.close()
rmSync(dataDir, { recursive: true, force: true })
