import Fastify from 'fastify'
import { test } from 'tap'
import app from '../../src/app.ts'
import { AUTH, build, testConfig, TOKENS } from '../helper.ts'

interface ErrorBody { statusCode: number, code: string, message: string }
const wrong = { authorization: 'Bearer wrong-token-0000000000' }

test('failed authentication is limited per client address: 429 with Retry-After, before the token is even checked', async (t) => {
  const app = await build(t, { rateAuthFailures: 3 })
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/api/jobs', headers: wrong })).statusCode, 401, `wrong token ${i + 1}`)
  const limited = await app.inject({ url: '/api/jobs', headers: wrong })
  t.equal(limited.statusCode, 429)
  t.equal(limited.json<ErrorBody>().code, 'RATE_LIMITED')
  t.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60, `Retry-After ${limited.headers['retry-after']}`)
  t.equal((await app.inject({ url: '/api/jobs', headers: AUTH.alice })).statusCode, 429, 'a right guess from that address is refused too: it tells nothing')
  t.equal((await app.inject({ method: 'POST', url: '/api/session', payload: { token: TOKENS.alice } })).statusCode, 429, 'so is a sign-in')
  t.equal((await app.inject({ url: '/api/jobs', headers: AUTH.alice, remoteAddress: '127.0.0.9' })).statusCode, 200, 'another address is not affected')
  t.equal((await app.inject({ url: '/api/jobs' })).statusCode, 401, 'a request with no credentials guesses nothing: still a 401')
})

test('wrong tokens sent to POST /api/session count as failures too', async (t) => {
  const app = await build(t, { rateAuthFailures: 2 })
  for (let i = 0; i < 2; i++) t.equal((await app.inject({ method: 'POST', url: '/api/session', payload: { token: 'wrong-token-0000000000' } })).statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/api/session', payload: { token: 'wrong-token-0000000000' } })).statusCode, 429)
})

test('starts are limited per user, and sign-ins per address', async (t) => {
  const app = await build(t, { rateStarts: 2, rateSessions: 2 })
  const start = async (user: keyof typeof AUTH): Promise<number> => (await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers: AUTH[user], payload: { seconds: 0 } })).statusCode
  t.same([await start('alice'), await start('alice')], [202, 202])
  const third = await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers: AUTH.alice, payload: { seconds: 0 } })
  t.equal(third.statusCode, 429)
  t.equal(third.json<ErrorBody>().code, 'RATE_LIMITED')
  t.ok(Number(third.headers['retry-after']) > 0, 'with Retry-After')
  t.equal(await start('bob'), 202, 'another user is not affected')
  const signIn = async (): Promise<number> => (await app.inject({ method: 'POST', url: '/api/session', payload: { token: TOKENS.bob } })).statusCode
  t.same([await signIn(), await signIn(), await signIn()], [200, 200, 429])
})

test('CSRF: a cookie-authenticated unsafe request from another origin is a 403; same origin and bearer tokens pass', async (t) => {
  const app = await build(t)
  const signIn = await app.inject({ method: 'POST', url: '/api/session', payload: { token: TOKENS.alice } })
  const cookie = String(signIn.headers['set-cookie']).split(';')[0]!
  const evil = { cookie, origin: 'http://evil.example' }
  const multipart = await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers: { ...evil, 'content-type': 'application/json' }, payload: '{"seconds":0}' })
  t.match({ ...multipart.json<ErrorBody>(), statusCode: multipart.statusCode }, { statusCode: 403, code: 'CROSS_SITE_REQUEST' })
  const sameSite = await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers: { cookie, 'sec-fetch-site': 'same-site' }, payload: { seconds: 0 } })
  t.equal(sameSite.statusCode, 403, 'same-site is not same-origin')
  const none = await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers: { cookie }, payload: { seconds: 0 } })
  t.equal(none.statusCode, 403, 'neither Origin nor Sec-Fetch-Site: refused')
  const job = await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers: { cookie, origin: 'http://localhost' }, payload: { seconds: 30 } })
  t.equal(job.statusCode, 202, 'same origin')
  const id = job.json<{ id: string }>().id
  const cancel = await app.inject({ method: 'POST', url: `/api/jobs/${id}/cancel`, headers: { ...evil, 'content-type': 'text/plain' }, payload: 'x' })
  t.equal(cancel.statusCode, 403, 'a text/plain cancel from elsewhere')
  t.equal((await app.jobcast.get('alice', id))?.state !== 'canceled', true, 'and the job was not canceled')
  t.equal((await app.inject({ method: 'DELETE', url: '/api/session', headers: evil })).statusCode, 403, 'nor a sign-out')
  t.equal((await app.inject({ url: '/api/jobs', headers: evil })).statusCode, 200, 'a GET is not a change')
  const bearer = await app.inject({ method: 'POST', url: `/api/jobs/${id}/cancel`, headers: { ...AUTH.alice, origin: 'http://evil.example' } })
  t.equal(bearer.statusCode, 200, 'a bearer token is unaffected')
})

test('the session cookie is Secure over HTTPS (behind a trusted proxy) or when configured', async (t) => {
  const plain = await build(t)
  const cookieOf = async (fastify: typeof plain, headers: Record<string, string> = {}): Promise<string> =>
    String((await fastify.inject({ method: 'POST', url: '/api/session', headers, payload: { token: TOKENS.alice } })).headers['set-cookie'])
  t.notMatch(await cookieOf(plain), /Secure/, 'plain HTTP')
  t.notMatch(await cookieOf(plain, { 'x-forwarded-proto': 'https' }), /Secure/, 'a forwarded header from an untrusted peer is ignored')
  const configured = await build(t, { cookieSecure: true })
  t.match(await cookieOf(configured), /; Secure/)
  const proxied = Fastify({ logger: false, trustProxy: true })
  await proxied.register(app, { config: testConfig(t) })
  t.teardown(async () => { await proxied.close() })
  t.match(await cookieOf(proxied, { 'x-forwarded-proto': 'https' }), /; Secure/, 'HTTPS seen through a trusted proxy')
})

test('expired sessions are purged on a timer', async (t) => {
  const fastify = Fastify({ logger: false })
  await fastify.register(app, { config: testConfig(t, { sessionPurgeMs: 100 }) })
  t.teardown(async () => { await fastify.close() })
  const users = fastify.jobcast.users!
  const purged: number[] = []
  let sawPurge!: () => void
  const done = new Promise<void>((resolve) => { sawPurge = resolve })
  const purge = users.purgeSessions.bind(users)
  users.purgeSessions = async (now) => {
    const n = await purge(now)
    purged.push(n)
    if (n > 0) sawPurge()
    return n
  }
  await fastify.ready()
  const expired = await users.createSession('alice', 1)
  await users.createSession('alice', 3_600_000)
  // Not unref'd: the purge timer is, and this one keeps the test alive until it fires.
  let watchdog: NodeJS.Timeout | undefined
  await Promise.race([done, new Promise((_r, reject) => { watchdog = setTimeout(() => { reject(new Error('no purge within 5 s')) }, 5000) })])
  clearTimeout(watchdog)
  t.equal(purged.find((n) => n > 0), 1, 'the expired session, and only it, was deleted')
  t.equal(await users.userForSession(expired), undefined)
})

test('security headers: a CSP that allows the dashboard\'s import map by hash and /docs; /metrics behind its token', async (t) => {
  const app = await build(t, { metricsToken: 'metrics-secret-000001' })
  const page = await app.inject('/')
  const csp = String(page.headers['content-security-policy'])
  t.match(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/)
  t.notMatch(csp, /unsafe-inline[^;]*;.*script|script-src[^;]*unsafe-inline/, 'no inline script but the hashed one')
  t.notMatch(csp, /upgrade-insecure-requests/, 'plain HTTP on loopback keeps working')
  t.match(csp, /frame-ancestors 'none'/)
  t.equal(page.headers['x-content-type-options'], 'nosniff')
  const docs = await app.inject('/docs/static/index.html')
  t.match(String(docs.headers['content-security-policy'] ?? ''), /script-src 'self'/, '/docs gets one too')
  t.ok((await app.inject({ url: '/api/jobs', headers: AUTH.alice })).headers['x-frame-options'] !== undefined, 'the API too')

  t.equal((await app.inject('/metrics')).statusCode, 401)
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer nope' } })).statusCode, 401)
  const ok = await app.inject({ url: '/metrics', headers: { authorization: 'Bearer metrics-secret-000001' } })
  t.equal(ok.statusCode, 200)
  t.match(ok.body, /jobcast_jobs_running/)
  const open = await build(t)
  t.equal((await open.inject('/metrics')).statusCode, 200, 'no token configured: open, as before')
})
