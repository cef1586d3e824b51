import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { freePort } from '../child-server.ts'
import { build, recordEvents, startJob, waitForState, type Teardown } from '../helper.ts'

interface UrlCheck { url: string, ok: boolean, status: number | null, timeMs: number | null, error?: { code: string, message: string } }

/** A local server: /fast 200, /slow never in time, /error 500, /count/* 200 after 20 ms, counting requests in flight. */
async function localServer (t: Teardown): Promise<{ base: string, peak: () => number, counted: () => number }> {
  let inFlight = 0
  let peak = 0
  let counted = 0
  const server: Server = createServer((req, res) => {
    if (req.url === '/fast') { res.end('ok'); return }
    if (req.url === '/error') { res.statusCode = 500; res.end('boom'); return }
    if (req.url === '/slow') {
      const timer = setTimeout(() => { res.end('too late') }, 20_000)
      res.on('close', () => { clearTimeout(timer) })
      return
    }
    if (req.url?.startsWith('/count/') === true) {
      counted++
      peak = Math.max(peak, ++inFlight)
      setTimeout(() => { inFlight--; res.end('ok') }, 20)
      return
    }
    res.statusCode = 404
    res.end()
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => { server.close(resolve) })
  })
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, peak: () => peak, counted: () => counted }
}

test('http-check: per-URL results, failures collected, bounded concurrency, "URL k of n" progress', async (t) => {
  const local = await localServer(t)
  // A port that was just open and is now closed: connecting to it is refused.
  const refused = `http://127.0.0.1:${await freePort()}/`
  const counted = Array.from({ length: 20 }, (_, i) => `${local.base}/count/${i}`)
  const urls = [`${local.base}/fast`, `${local.base}/slow`, refused, `${local.base}/error`, ...counted]
  const app = await build(t)
  const events = recordEvents(t, app)

  const job = await startJob(app, 'alice', 'http-check', { urls, concurrency: 3, timeoutMs: 1500 })
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed', 'canceled')

  t.equal(done.state, 'completed', 'some URLs failing does not fail the job')
  const result = done.result as { total: number, ok: number, failed: number, results: UrlCheck[] }
  t.equal(result.total, 24)
  t.equal(result.ok, 21)
  t.equal(result.failed, 3)
  t.same(result.results.map((r) => r.url), urls, 'one result per URL, in input order')
  const [fast, slow, refusedResult, error] = result.results
  t.match(fast, { ok: true, status: 200, timeMs: Number })
  t.match(slow, { ok: false, status: null, error: { code: 'ITEM_TIMEOUT' } })
  t.match(refusedResult, { ok: false, status: null, error: { code: 'ECONNREFUSED' } })
  t.match(error, { ok: false, status: 500 })
  t.notOk(error!.error, 'a 500 is an answer, not a network error')
  t.ok(result.results.slice(4).every((r) => r.ok && r.status === 200))

  t.equal(local.counted(), 20)
  t.ok(local.peak() <= 3, `at most 3 requests in flight (peak ${local.peak()})`)
  t.ok(local.peak() > 1, `requests did overlap (peak ${local.peak()})`)

  const messages = events.filter((e) => e.job.id === job.id && e.kind === 'progress').map((e) => e.job.progress?.message)
  t.ok(messages.length > 0)
  t.same(messages.filter((m) => m === undefined || m === null || !/^URL \d+ of 24$/.test(m)), [], 'every progress message is "URL k of 24"')
  t.equal(done.progress?.message, 'URL 24 of 24')
  t.equal(done.progress?.percent, 100)
})

test('http-check: input must be http(s) URLs', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/api/jobs/http-check', headers: { authorization: 'Bearer token-alice-0001' }, payload: { urls: ['ftp://example.com/'] } })
  t.equal(res.statusCode, 400)
  t.match(res.json<{ message: string }>().message, /input\.urls/)
})
