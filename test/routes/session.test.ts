import { test } from 'tap'
import { AUTH, build, TOKENS } from '../helper.ts'

test('POST /api/session sets an HttpOnly cookie that authenticates; DELETE /api/session revokes it', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/api/session', payload: { token: TOKENS.alice } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { user: 'alice' })
  const setCookie = String(res.headers['set-cookie'])
  t.match(setCookie, /^jobcast_session=[^;]+;/)
  t.match(setCookie, /HttpOnly/)
  t.match(setCookie, /SameSite=Lax/)
  t.match(setCookie, /Path=\//)
  t.notMatch(setCookie, TOKENS.alice, 'the cookie is not the token')
  const cookie = setCookie.split(';')[0]!

  const jobs = await app.inject({ method: 'GET', url: '/api/jobs', headers: { cookie } })
  t.equal(jobs.statusCode, 200, 'the cookie alone authenticates')
  // A page of the same site: a cookie-authenticated POST must say so (Origin / Sec-Fetch-Site).
  const started = await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers: { cookie, origin: 'http://localhost' }, payload: { seconds: 0 } })
  t.equal(started.statusCode, 202)
  t.equal(started.json<{ owner: string }>().owner, 'alice', 'as the user of the token')

  const out = await app.inject({ method: 'DELETE', url: '/api/session', headers: { cookie, 'sec-fetch-site': 'same-origin' } })
  t.equal(out.statusCode, 204)
  t.match(String(out.headers['set-cookie']), /Max-Age=0/)
  const after = await app.inject({ method: 'GET', url: '/api/jobs', headers: { cookie } })
  t.equal(after.statusCode, 401, 'the revoked session no longer works')
})

test('POST /api/session takes the token as a bearer header too, and refuses a wrong one', async (t) => {
  const app = await build(t)
  const bearer = await app.inject({ method: 'POST', url: '/api/session', headers: AUTH.bob })
  t.equal(bearer.statusCode, 200)
  t.same(bearer.json(), { user: 'bob' })
  const wrong = await app.inject({ method: 'POST', url: '/api/session', payload: { token: 'wrong-token-123' } })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json<{ code: string }>().code, 'UNAUTHORIZED')
  t.equal(wrong.headers['set-cookie'], undefined)
})
