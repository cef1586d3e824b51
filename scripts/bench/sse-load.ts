// The SSE load client of the SSE benchmark, run as a forked child of scripts/bench/sse-connections.ts (IPC).
// Opens many /api/events streams (node:http, no agent: one socket each) and records, for every `progress`
// event, receipt time minus the `t=<ms>` stamp the job put in its message. Messages from the driver:
//   { type: 'open', url, users, perUser, parallel } → { type: 'opened', count, ms } once every stream had its snapshot
//   { type: 'collect' }                             → { type: 'latencies', count, p50, p99, max } (and clears them)
//   { type: 'close' }                               → { type: 'closed' } once every socket closed
import { request, type ClientRequest } from 'node:http'
import { monitorEventLoopDelay } from 'node:perf_hooks'

// Event-loop delay of this client: a busy client inflates the latencies it measures.
const lag = monitorEventLoopDelay({ resolution: 5 })
lag.enable()

const nowAbs = (): number => performance.timeOrigin + performance.now()
const send = (message: unknown): void => { process.send?.(message) }

const requests: ClientRequest[] = []
let latencies: number[] = []
let errors = 0

// Scans a chunk for progress stamps; frames never split a stamp across chunks in practice, and a split one is
// only a lost sample (counted by the driver as received < expected), never a wrong one.
function scan (chunk: string, received: number): void {
  let at = chunk.indexOf('event: progress')
  while (at !== -1) {
    const stamp = chunk.indexOf('"message":"t=', at)
    if (stamp === -1) return
    const start = stamp + 13
    const end = chunk.indexOf('"', start)
    if (end === -1) return
    latencies.push(received - Number(chunk.slice(start, end)))
    at = chunk.indexOf('event: progress', end)
  }
}

async function openOne (url: string, token: string, localAddress: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = request(url, { agent: false, localAddress, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } })
    requests.push(req)
    req.once('error', (err) => { errors++; reject(err) })
    req.once('response', (res) => {
      if (res.statusCode !== 200) { reject(new Error(`status ${res.statusCode}`)); return }
      res.setEncoding('utf8')
      let opened = false
      res.on('data', (chunk: string) => {
        const received = nowAbs()
        if (!opened && chunk.includes('event: snapshot')) { opened = true; resolve() }
        scan(chunk, received)
      })
      res.on('error', () => { errors++ })
    })
    req.end()
  })
}

process.on('message', (message: { type: string, url?: string, users?: number, perUser?: number, parallel?: number }) => {
  if (message.type === 'open') {
    errors = 0
    const started = performance.now()
    const { url, users = 100, perUser = 100, parallel = 200 } = message
    const total = users * perUser
    let next = 0
    // Bounded parallelism, so the server's accept backlog never overflows; source addresses 127.0.0.1–4 spread the ports.
    const worker = async (): Promise<void> => {
      while (next < total) {
        const i = next++
        const user = `u${String(i % users).padStart(3, '0')}`
        await openOne(`${url}/api/events`, `bench-token-${user}`, `127.0.0.${1 + (i % 4)}`)
      }
    }
    Promise.all(Array.from({ length: parallel }, worker)).then(
      () => { send({ type: 'opened', count: requests.length, ms: performance.now() - started, errors }) },
      (err: unknown) => { send({ type: 'error', message: (err as Error).message, opened: requests.length }) }
    )
  } else if (message.type === 'collect') {
    const lagP99 = lag.percentile(99) / 1e6
    lag.reset()
    const sorted = Float64Array.from(latencies).sort()
    const rank = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN
    send({ type: 'latencies', count: sorted.length, p50: rank(50), p99: rank(99), max: sorted.at(-1) ?? NaN, errors, lagP99 })
    latencies = []
  } else if (message.type === 'close') {
    let open = requests.length
    if (open === 0) send({ type: 'closed' })
    const closed = (): void => { if (--open === 0) send({ type: 'closed' }) }
    for (const req of requests) {
      if (req.socket === null || req.socket.destroyed) closed()
      else req.socket.once('close', closed)
      req.destroy()
    }
    requests.length = 0
  }
})
process.on('disconnect', () => { process.exit(0) })
send({ type: 'ready' })
