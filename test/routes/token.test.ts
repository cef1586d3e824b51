import { test } from 'tap'
import { AUTH, build, tempDataDir, TOKENS } from '../helper.ts'

interface ErrorBody { code: string, message: string }

test('POST /api/token rotates my token: the new one is shown once, the old one and my sessions stop at once', async (t) => {
  const app = await build(t)
  const old = await app.jobcast.users!.grantToken('dave')
  const other = await app.jobcast.users!.grantToken('erin')
  const session = String((await app.inject({ method: 'POST', url: '/api/session', payload: { token: old } })).headers['set-cookie']).split(';')[0]!

  const res = await app.inject({ method: 'POST', url: '/api/token', headers: { authorization: `Bearer ${old}` } })
  t.equal(res.statusCode, 200)
  const { user, token } = res.json<{ user: string, token: string }>()
  t.equal(user, 'dave')
  t.match(token, /^[A-Za-z0-9_-]{43}$/, '32 random bytes')
  t.equal(res.headers['cache-control'], 'no-store')
  const as = async (headers: Record<string, string>): Promise<number> => (await app.inject({ url: '/api/jobs', headers })).statusCode
  t.equal(await as({ authorization: `Bearer ${old}` }), 401, 'the old token stops at once')
  t.equal(await as({ cookie: session }), 401, 'so does a session it opened')
  t.equal(await as({ authorization: `Bearer ${token}` }), 200, 'the new one works')
  t.equal(await as({ authorization: `Bearer ${other}` }), 200, 'another user is not touched')
})

test('rotating by the session cookie: same origin only, and the browser gets a fresh session', async (t) => {
  const app = await build(t)
  const old = await app.jobcast.users!.grantToken('dave')
  const cookie = String((await app.inject({ method: 'POST', url: '/api/session', payload: { token: old } })).headers['set-cookie']).split(';')[0]!
  const cross = await app.inject({ method: 'POST', url: '/api/token', headers: { cookie, origin: 'http://evil.example' } })
  t.equal(cross.statusCode, 403)
  t.equal(cross.json<ErrorBody>().code, 'CROSS_SITE_REQUEST')
  t.equal((await app.inject({ url: '/api/jobs', headers: { authorization: `Bearer ${old}` } })).statusCode, 200, 'a refused rotation changes nothing')

  const res = await app.inject({ method: 'POST', url: '/api/token', headers: { cookie, 'sec-fetch-site': 'same-origin' } })
  t.equal(res.statusCode, 200)
  const fresh = String(res.headers['set-cookie']).split(';')[0]!
  t.match(String(res.headers['set-cookie']), /HttpOnly/)
  t.not(fresh, cookie)
  t.equal((await app.inject({ url: '/api/jobs', headers: { cookie } })).statusCode, 401, 'the old session ends')
  t.equal((await app.inject({ url: '/api/jobs', headers: { cookie: fresh } })).statusCode, 200, 'the new one works')
})

test('a user whose tokens come from JOBCAST_TOKENS cannot rotate here (409): the next start would bring the old one back', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/api/token', headers: AUTH.alice })
  t.equal(res.statusCode, 409)
  t.match(res.json<ErrorBody>(), { code: 'TOKEN_CONFIGURED', message: /JOBCAST_TOKENS/ })
  t.equal((await app.inject({ url: '/api/jobs', headers: AUTH.alice })).statusCode, 200, 'the token still works')
  t.equal((await app.inject({ method: 'POST', url: '/api/token' })).statusCode, 401, 'signed out: 401')
})

test('JOBCAST_TOKENS is the whole set of its users at each start: a removed or rotated token stops working', async (t) => {
  const dataDir = tempDataDir(t)
  const status = async (app: Awaited<ReturnType<typeof build>>, token: string): Promise<number> => (await app.inject({ url: '/api/jobs', headers: { authorization: `Bearer ${token}` } })).statusCode
  const first = await build(t, { dataDir, tokens: [{ user: 'alice', token: 'alice-token-one-0001' }, { user: 'alice', token: 'alice-token-two-0002' }, { user: 'bob', token: TOKENS.bob }] })
  t.equal(await status(first, 'alice-token-one-0001'), 200)
  t.equal(await status(first, 'alice-token-two-0002'), 200)
  await first.close()
  const second = await build(t, { dataDir, tokens: [{ user: 'alice', token: 'alice-token-two-0002' }, { user: 'bob', token: 'bob-rotated-token-01' }] })
  t.equal(await status(second, 'alice-token-one-0001'), 401, 'removed from the list: refused')
  t.equal(await status(second, 'alice-token-two-0002'), 200, 'kept: works')
  t.equal(await status(second, TOKENS.bob), 401, 'rotated: the old one is refused')
  t.equal(await status(second, 'bob-rotated-token-01'), 200, 'and the new one works')
})

test('a cookie that does not decode is no session: 401 with a code, never a 500', async (t) => {
  const app = await build(t)
  for (const cookie of ['jobcast_session=%E0%A4%A', 'jobcast_session=%', 'jobcast_session', '=;;=', `jobcast_session=${'x'.repeat(5000)}`]) {
    const res = await app.inject({ url: '/api/jobs', headers: { cookie } })
    t.equal(res.statusCode, 401, cookie.slice(0, 40))
    t.equal(res.json<ErrorBody>().code, 'UNAUTHORIZED')
  }
})
