import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { parseAllowList } from '../../src/net/index.ts'
import { freePort } from '../child-server.ts'
import { AUTH, build, recordEvents, startJob, waitForState, type Teardown } from '../helper.ts'

interface UrlCheck { url: string, ok: boolean, status: number | null, timeMs: number | null, redirects?: string[], error?: { code: string, message: string } }
interface CheckResult { total: number, ok: number, failed: number, results: UrlCheck[] }

/** The local test servers are reachable only through this allow-list. */
const LOCAL = { allowPrivateUrls: parseAllowList('127.0.0.1,::1') }

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
  const app = await build(t, LOCAL)
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
  const res = await app.inject({ method: 'POST', url: '/api/jobs/http-check', headers: AUTH.alice, payload: { urls: ['ftp://example.com/'] } })
  t.equal(res.statusCode, 400)
  t.match(res.json<{ message: string }>().message, /input\.urls/)
})

test('http-check: more URLs than JOBCAST_HTTP_CHECK_MAX_URLS, or a concurrency past its cap, is a 400', async (t) => {
  const app = await build(t, { httpCheckMaxUrls: 3, httpCheckMaxConcurrency: 4 })
  const tooMany = await app.inject({ method: 'POST', url: '/api/jobs/http-check', headers: AUTH.alice, payload: { urls: Array.from({ length: 4 }, (_, i) => `https://example.com/${i}`) } })
  t.equal(tooMany.statusCode, 400)
  t.match(tooMany.json<{ message: string }>().message, /input\.urls/)
  const tooFast = await app.inject({ method: 'POST', url: '/api/jobs/http-check', headers: AUTH.alice, payload: { urls: ['https://example.com/'], concurrency: 5 } })
  t.equal(tooFast.statusCode, 400)
  t.match(tooFast.json<{ message: string }>().message, /concurrency/)
})

test('http-check: loopback, private, link-local, CGNAT, metadata and encoded IP forms are refused unless allow-listed', async (t) => {
  const local = await localServer(t)
  const port = new URL(local.base).port
  const refusedUrls = [
    `http://127.0.0.1:${port}/count/a`,
    `http://localhost:${port}/count/b`,
    `http://2130706433:${port}/count/c`, // decimal 127.0.0.1
    `http://0x7f000001:${port}/count/d`, // hex
    `http://0177.0.0.1:${port}/count/e`, // octal
    `http://127.1:${port}/count/f`, // short form
    `http://[::1]:${port}/count/g`,
    `http://[::ffff:127.0.0.1]:${port}/count/h`, // IPv4-mapped IPv6
    'http://10.0.0.1/',
    'http://192.168.1.1/',
    'http://172.16.0.1/',
    'http://100.64.0.1/', // CGNAT
    'http://169.254.169.254/latest/meta-data/', // cloud metadata
    'http://[fe80::1]/',
    'http://[fd00::1]/',
    'http://0.0.0.0/'
  ]
  const app = await build(t)
  const job = await startJob(app, 'alice', 'http-check', { urls: refusedUrls, timeoutMs: 3000 })
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed', 'canceled')
  t.equal(done.state, 'completed')
  const result = done.result as CheckResult
  t.equal(result.ok, 0)
  for (const r of result.results) t.match(r, { ok: false, status: null, error: { code: 'ADDRESS_NOT_ALLOWED' } }, r.url)
  t.equal(local.counted(), 0, 'no request reached the local server')

  const allowed = await build(t, LOCAL)
  const again = await startJob(allowed, 'alice', 'http-check', { urls: refusedUrls.slice(0, 6), timeoutMs: 3000 })
  const allowedDone = await waitForState(allowed, 'alice', again.id, 'completed', 'failed', 'canceled')
  t.same((allowedDone.result as CheckResult).results.map((r) => r.status), [200, 200, 200, 200, 200, 200], 'with 127.0.0.1 allow-listed, every form of it is reached')
})

test('http-check: every redirect hop is checked; an internal hop is refused unless allow-listed', async (t) => {
  // The "outside" server is allow-listed; the "inside" one (127.0.0.2) is not.
  let insideHits = 0
  const inside = createServer((_req, res) => { insideHits++; res.end('secret') })
  await new Promise<void>((resolve) => { inside.listen(0, '127.0.0.2', resolve) })
  t.teardown(async () => { inside.closeAllConnections(); await new Promise((resolve) => { inside.close(resolve) }) })
  const insidePort = (inside.address() as AddressInfo).port
  const outside = createServer((req, res) => {
    const to = req.url === '/to-decimal' ? `http://2130706434:${insidePort}/` : req.url === '/to-inside' ? `http://127.0.0.2:${insidePort}/` : '/final'
    if (req.url === '/final') { res.end('ok'); return }
    res.writeHead(302, { location: to }).end()
  })
  await new Promise<void>((resolve) => { outside.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => { outside.closeAllConnections(); await new Promise((resolve) => { outside.close(resolve) }) })
  const base = `http://127.0.0.1:${(outside.address() as AddressInfo).port}`
  const urls = [`${base}/to-inside`, `${base}/to-decimal`, `${base}/to-final`]

  const app = await build(t, { allowPrivateUrls: parseAllowList('127.0.0.1/32') })
  const job = await startJob(app, 'alice', 'http-check', { urls, timeoutMs: 3000 })
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed', 'canceled')
  const [toInside, toDecimal, toFinal] = (done.result as CheckResult).results
  t.match(toInside, { ok: false, error: { code: 'ADDRESS_NOT_ALLOWED', message: /127\.0\.0\.2/ } })
  t.match(toDecimal, { ok: false, error: { code: 'ADDRESS_NOT_ALLOWED', message: /127\.0\.0\.2/ } })
  t.match(toFinal, { ok: true, status: 200, redirects: [`${base}/final`] }, 'an allowed hop is followed')
  t.equal(insideHits, 0, 'the internal server was never reached')

  const allowed = await build(t, { allowPrivateUrls: parseAllowList('127.0.0.1,127.0.0.2') })
  const again = await startJob(allowed, 'alice', 'http-check', { urls: urls.slice(0, 2), timeoutMs: 3000 })
  const allowedDone = await waitForState(allowed, 'alice', again.id, 'completed', 'failed', 'canceled')
  t.same((allowedDone.result as CheckResult).results.map((r) => r.status), [200, 200])
  t.equal(insideHits, 2)
})

test('http-check: URLs not done within the overall time limit fail with TIME_LIMIT and the job completes', async (t) => {
  const local = await localServer(t)
  // Long enough for /fast on a loaded machine; /slow never answers within it.
  const app = await build(t, { ...LOCAL, httpCheckTimeLimitMs: 2500 })
  const urls = [`${local.base}/fast`, `${local.base}/slow`, `${local.base}/slow`, `${local.base}/slow`]
  const job = await startJob(app, 'alice', 'http-check', { urls, concurrency: 2, timeoutMs: 60_000 })
  const done = await waitForState(app, 'alice', job.id, 'completed', 'failed', 'canceled')
  t.equal(done.state, 'completed')
  const result = done.result as CheckResult
  t.match(result.results[0], { ok: true, status: 200 })
  t.same(result.results.slice(1).map((r) => r.error?.code), ['TIME_LIMIT', 'TIME_LIMIT', 'TIME_LIMIT'])
})
