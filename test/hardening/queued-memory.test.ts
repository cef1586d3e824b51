// Queued jobs are not held whole in memory: a server whose heap cannot hold their inputs takes them, stays up and
// lists them (the store keeps them; the runner's queue holds an id, owner, type and run-at per job).
import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { AUTH, tempDataDir, TOKENS } from '../helper.ts'
import { startChildServer } from '../child-server.ts'

const MiB = 1024 * 1024
const JOBS = 400
// 400 inputs of ~1 MB are 400 MB; the heap may not pass 128 MB (V8 ends the process when it would).
const HEAP_MB = 128

test(`${JOBS} queued jobs of ~1 MB input each on a server with a ${HEAP_MB} MB heap: all taken, the server up, its memory far below their size`, async (t) => {
  const server = await startChildServer(t, {
    NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}`,
    JOBCAST_DATA_DIR: tempDataDir(t),
    JOBCAST_TOKENS: `alice:${TOKENS.alice}`,
    JOBCAST_BUILT_INS: 'sleep',
    JOBCAST_CONCURRENCY: '1',
    JOBCAST_USER_CONCURRENCY: '1',
    JOBCAST_RATE_STARTS: '100000'
  }, ['--jobs', 'examples/jobs'])
  const post = async (type: string, input: unknown): Promise<Response> => await fetch(`${server.url}/api/jobs/${type}`, {
    method: 'POST', headers: { ...AUTH.alice, 'content-type': 'application/json' }, body: JSON.stringify(input), signal: AbortSignal.timeout(30_000)
  })
  // alice's one slot is taken for a minute: everything after it waits.
  t.equal((await post('sleep', { seconds: 60, steps: 1 })).status, 202)
  const before = memory(server.process.pid!, 'VmRSS')
  const text = 'lorem ipsum dolor sit amet '.repeat(37_000).slice(0, 999_000)
  for (let i = 0; i < JOBS; i++) {
    const res = await post('word-count', { texts: [text], top: 1 + (i % 100) })
    if (res.status !== 202) t.fail(`start ${i} answered ${res.status}: ${await res.text()}`)
    await res.arrayBuffer()
  }
  const health = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(10_000) })
  t.equal(health.status, 200, 'the server is up and healthy')
  // A page of a hundred would read 100 MB if lists read inputs.
  const page = await (await fetch(`${server.url}/api/jobs?state=queued&limit=100`, { headers: AUTH.alice })).json() as { items: Array<{ state: string }> }
  t.equal(page.items.length, 100, 'queued jobs are listed, a hundred to a page')
  const metrics = await (await fetch(`${server.url}/metrics`)).text()
  t.match(metrics, new RegExp(`^jobcast_jobs_queued(\\{[^}]*\\})? ${JOBS}$`, 'm'), `all ${JOBS} are queued`)
  const peak = memory(server.process.pid!, 'VmHWM')
  t.comment(`RSS ${(before / MiB).toFixed(0)} MiB before, peak ${(peak / MiB).toFixed(0)} MiB with ${JOBS} queued inputs of ${(text.length / 1e6).toFixed(2)} MB`)
  t.ok(peak - before < JOBS * text.length / 4, `grew by ${((peak - before) / MiB).toFixed(0)} MiB, under a quarter of what the inputs take`)
})

// A process's memory figure from /proc (VmRSS now, VmHWM its peak), in bytes.
function memory (pid: number, field: 'VmRSS' | 'VmHWM'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
}
