import { test } from 'tap'
import { responseError } from '../../src/core/http-errors.ts'
import { PermanentError, RetryableError } from '../../src/errors.ts'

const response = (status: number, headers: Record<string, string> = {}, statusText = ''): Response => new Response(null, { status, statusText, headers })

test('responseError: 429 with Retry-After is a RetryableError with retryAfterMs', async (t) => {
  const err = responseError(response(429, { 'retry-after': '3' }, 'Too Many Requests'), 'GET https://api.example')
  t.ok(err instanceof RetryableError)
  t.equal((err as RetryableError).retryAfterMs, 3000)
  t.equal(err.code, 'HTTP_429')
  t.equal(err.message, 'GET https://api.example answered 429 Too Many Requests')
})

test('responseError: 503 and 500 are retryable; without Retry-After no floor', async (t) => {
  const unavailable = responseError(response(503))
  t.ok(unavailable instanceof RetryableError)
  t.equal((unavailable as RetryableError).retryAfterMs, undefined)
  t.equal(unavailable.code, 'HTTP_503')
  const future = new Date(Date.now() + 60_000).toUTCString()
  const dated = responseError(response(503, { 'retry-after': future })) as RetryableError
  t.ok(dated.retryAfterMs !== undefined && dated.retryAfterMs > 55_000 && dated.retryAfterMs <= 60_000, 'an HTTP date is honored')
  t.ok(responseError(response(500)) instanceof RetryableError)
})

test('responseError: 529 (overloaded) is retryable and honors Retry-After', async (t) => {
  const overloaded = responseError(response(529, { 'retry-after': '10' }), 'POST https://api.example/v1') as RetryableError
  t.ok(overloaded instanceof RetryableError)
  t.equal(overloaded.code, 'HTTP_529')
  t.equal(overloaded.retryAfterMs, 10_000)
})

test('responseError: 404 and other 4xx are permanent, code HTTP_<status>', async (t) => {
  const notFound = responseError(response(404, {}, 'Not Found'))
  t.ok(notFound instanceof PermanentError)
  t.notOk(notFound instanceof RetryableError)
  t.equal(notFound.code, 'HTTP_404')
  t.same(notFound.toJSON(), { code: 'HTTP_404', message: 'request answered 404 Not Found' })
  t.ok(responseError(response(400)) instanceof PermanentError)
  t.ok(responseError(response(401)) instanceof PermanentError)
})
