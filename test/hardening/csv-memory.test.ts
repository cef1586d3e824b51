import { createReadStream, createWriteStream, readFileSync, statSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { once } from 'node:events'
import t, { test } from 'tap'
import { AUTH, tempDataDir, TOKENS } from '../helper.ts'
import { AS_STARTED_ENV, buildServer } from '../built-server.ts'
import { pollUntil, startChildServer, type ChildServer } from '../child-server.ts'

const MiB = 1024 * 1024
// The server as `npm start` runs it (dist/): its memory is what a user's server takes, without tsx's loader.
const CLI = await buildServer(t)

// Writes `rows()` to `path` chunk by chunk, waiting when the stream is full: the file is never whole in memory.
async function writeStreaming (path: string, chunks: Iterable<string>): Promise<number> {
  const out = createWriteStream(path)
  for (const chunk of chunks) {
    if (!out.write(chunk)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  return statSync(path).size
}

// A CSV whose second row has one cell of `cellBytes` bytes.
function * hugeCell (cellBytes: number): Generator<string> {
  yield 'id,note,n\n1,short,1\n2,'
  const piece = 'abcdefghij'.repeat(100_000) // 1 MB
  for (let left = cellBytes; left > 0; left -= piece.length) yield piece.slice(0, Math.min(piece.length, left))
  yield ',2\n3,tiny,3\n'
}

// A CSV of `columns` columns and as many rows as reach `targetBytes`.
function * wide (columns: number, targetBytes: number): Generator<string> {
  yield Array.from({ length: columns }, (_, i) => `c${i}`).join(',') + '\n'
  let bytes = 0
  for (let r = 0; bytes < targetBytes; r++) {
    const row = Array.from({ length: columns }, (_, i) => String((r * 31 + i) % 1000)).join(',') + '\n'
    bytes += row.length
    yield row
  }
}

// The child server's peak resident memory (VmHWM), in bytes.
function peakRss (server: ChildServer): number {
  const status = readFileSync(`/proc/${server.process.pid!}/status`, 'utf8')
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024
}

// Uploads `path` as csv-profile's file, streamed from disk; resolves with the job id.
async function upload (server: ChildServer, path: string): Promise<string> {
  const boundary = 'csvmemoryboundary'
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n`
  const tail = `\r\n--${boundary}--\r\n`
  const length = Buffer.byteLength(head) + statSync(path).size + Buffer.byteLength(tail)
  return await new Promise((resolve, reject) => {
    const req = request(`${server.url}/api/jobs/csv-profile`, {
      method: 'POST',
      headers: { ...AUTH.alice, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': length }
    }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => {
        if (res.statusCode !== 202) reject(new Error(`upload answered ${res.statusCode}: ${body}`))
        else resolve((JSON.parse(body) as { id: string }).id)
      })
    })
    req.on('error', reject)
    req.write(head)
    const file = createReadStream(path)
    file.on('error', reject)
    file.on('end', () => { req.end(tail) })
    file.pipe(req, { end: false })
  })
}

interface Column { name: string, min: string | null, max: string | null, topValues: Array<{ value: string }>, truncated?: boolean }

/**
 * Profiles `path` on a real server while polling the job (GET) and /healthz: resolves with the largest GET body,
 * the slowest /healthz, the server's peak RSS and the finished job.
 */
async function profileUnderWatch (t: Parameters<typeof startChildServer>[0], path: string): Promise<{ maxBody: number, healthMs: number[], peak: number, job: { state: string, result: unknown, error: unknown } }> {
  const server = await startChildServer(t, { ...AS_STARTED_ENV, JOBCAST_DATA_DIR: tempDataDir(t), JOBCAST_TOKENS: `alice:${TOKENS.alice}`, JOBCAST_CSV_WORKERS: '2' }, [], CLI)
  const id = await upload(server, path)
  let maxBody = 0
  const healthMs: number[] = []
  const job = await pollUntil(async () => {
    const asked = performance.now()
    const health = await fetch(`${server.url}/healthz`)
    await health.arrayBuffer()
    healthMs.push(performance.now() - asked)
    const res = await fetch(`${server.url}/api/jobs/${id}`, { headers: AUTH.alice })
    const text = await res.text()
    maxBody = Math.max(maxBody, Buffer.byteLength(text))
    const body = JSON.parse(text) as { state: string, result: unknown, error: unknown }
    return ['completed', 'failed', 'canceled'].includes(body.state) ? body : undefined
  }, 'the profile to finish', 240_000, 50)
  return { maxBody, healthMs: healthMs.sort((a, b) => a - b), peak: peakRss(server), job }
}

// The 30,000-column file peaked at 3.3 GB, then 810-870, then 650-700, then 515-560 MiB: of that, ~120 MiB was the
// test runner's loader thread in the child (AS_STARTED_ENV) and up to ~100 MiB large strings left by this test's
// polling (each GET read and serialized the 250 KB preview; now kept as bytes, see InputPreviewCache). As `npm start`
// runs it: 408-450 MiB. See docs/DESIGN.md (Memory).
const cases = [
  { name: 'a 50 MB cell', file: 'cell.csv', make: () => hugeCell(50 * MiB) },
  { name: '30,000 columns (70 MB)', file: 'wide.csv', make: () => wide(30_000, 70 * MiB) }
]

for (const c of cases) {
  test(`${c.name}: the job's GET stays under 1.5 MiB, the server under 512 MB, /healthz under 100 ms, strings capped`, async (t) => {
    const dir = tempDataDir(t)
    const path = join(dir, c.file)
    const size = await writeStreaming(path, c.make())
    const { maxBody, healthMs, peak, job } = await profileUnderWatch(t, path)
    // The machine may be shared: one slow answer is noise, most answers slow is the event loop blocked.
    const p95 = healthMs[Math.floor(healthMs.length * 0.95)]!
    t.comment(`${c.name}: ${(size / MiB).toFixed(0)} MiB file, largest GET ${(maxBody / 1024).toFixed(0)} KiB, peak RSS ${(peak / MiB).toFixed(0)} MiB, /healthz p50 ${healthMs[healthMs.length >> 1]!.toFixed(1)} ms p95 ${p95.toFixed(1)} ms max ${healthMs.at(-1)!.toFixed(1)} ms (${healthMs.length} asked)`)
    t.equal(job.state, 'completed', JSON.stringify(job.error))
    t.ok(maxBody < 1.5 * MiB, `largest GET body ${maxBody} bytes`)
    t.ok(peak < 512 * MiB, `peak RSS ${(peak / MiB).toFixed(0)} MiB`)
    t.ok(p95 < 100, `/healthz p95 ${p95.toFixed(1)} ms`)
    // Every string the profile derived from a cell is capped, and says so.
    const columns = (job.result as { columns?: Column[] } | { truncated: true }) as { columns?: Column[] }
    if (columns.columns !== undefined) {
      const longest = Math.max(...columns.columns.flatMap((col) => [col.min, col.max, ...col.topValues.map((v) => v.value)].map((v) => (v ?? '').length)))
      t.ok(longest <= 256, `the longest reported value has ${longest} characters`)
      if (c.file === 'cell.csv') t.match(columns.columns.find((col) => col.name === 'note'), { truncated: true, maxLength: 50 * MiB }, 'the cut column is marked, its true length kept')
    }
  })
}
