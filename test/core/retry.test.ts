import { test } from 'tap'
import { parseRetryAfter, retryDelay } from '../../src/core/retry.ts'

test('retryDelay: full jitter between 0 and the exponential ceiling', async (t) => {
  const policy = { attempts: 10, baseMs: 100, maxMs: 10_000 }
  for (const [attempt, ceiling] of [[1, 100], [2, 200], [3, 400], [5, 1600]] as const) {
    t.equal(retryDelay(policy, attempt, 0, () => 0), 0, `attempt ${attempt}: the least is 0`)
    t.equal(retryDelay(policy, attempt, 0, () => 0.999999), ceiling, `attempt ${attempt}: the most is ${ceiling}`)
    t.equal(retryDelay(policy, attempt, 0, () => 0.5), ceiling / 2)
  }
  const delays = Array.from({ length: 500 }, () => retryDelay(policy, 4))
  t.same(delays.filter((d) => d < 0 || d > 800 || !Number.isInteger(d)), [], 'with Math.random: whole ms within [0, 800]')
  t.ok(new Set(delays).size > 50, 'and jittered, not constant')
})

test('retryDelay: capped at maxMs; fixed backoff stays at baseMs; defaults', async (t) => {
  t.equal(retryDelay({ attempts: 30, baseMs: 1000, maxMs: 5000 }, 20, 0, () => 0.999999), 5000)
  t.equal(retryDelay({ attempts: 30, baseMs: 1000, maxMs: 5000, backoff: 'fixed' }, 20, 0, () => 0.999999), 1000)
  t.equal(retryDelay({ attempts: 30 }, 1, 0, () => 0.999999), 1000, 'baseMs defaults to 1000')
  t.equal(retryDelay({ attempts: 30 }, 30, 0, () => 0.999999), 60_000, 'maxMs defaults to 60000')
})

test('retryDelay: retryAfterMs is a floor, even above maxMs', async (t) => {
  const policy = { attempts: 5, baseMs: 100, maxMs: 1000 }
  t.equal(retryDelay(policy, 1, 150, () => 0), 150)
  t.equal(retryDelay(policy, 1, 150, () => 0.999999), 150, 'the jittered value (100) is below the floor')
  t.equal(retryDelay(policy, 3, 150, () => 0.999999), 400, 'a jittered value above the floor wins')
  t.equal(retryDelay(policy, 10, 30_000, () => 0.5), 30_000, 'the server asked for more than maxMs: honored')
})

test('parseRetryAfter: seconds, HTTP date, and garbage', async (t) => {
  const now = Date.UTC(2024, 5, 1, 12, 0, 0)
  t.equal(parseRetryAfter('120', now), 120_000)
  t.equal(parseRetryAfter('0', now), 0)
  t.equal(parseRetryAfter('1.5', now), 1500)
  t.equal(parseRetryAfter(new Date(now + 30_000).toUTCString(), now), 30_000)
  t.equal(parseRetryAfter('Sat, 01 Jun 2024 12:01:00 GMT', now), 60_000)
  t.equal(parseRetryAfter('Sat, 01 Jun 2024 11:00:00 GMT', now), 0, 'a date in the past: no wait')
  t.equal(parseRetryAfter('-5', now), 0, 'negative seconds: no wait')
  t.equal(parseRetryAfter('soon', now), undefined)
  t.equal(parseRetryAfter('', now), undefined)
  t.equal(parseRetryAfter(null, now), undefined)
  t.equal(parseRetryAfter(undefined, now), undefined)
})
