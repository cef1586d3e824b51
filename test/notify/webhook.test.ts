import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { test } from 'tap'
import { createSafeAgent, NO_ALLOW_LIST, parseAllowList, type AllowList } from '../../src/net/index.ts'
import { generateWebhookSecret, nextStep, parseRetryAfter, RETRY_SCHEDULE_MS, sendWebhook, signWebhook, type DeliveryAttempt, type NextStep } from '../../src/notify/index.ts'
import type { Teardown } from '../helper.ts'

interface Received { at: number, headers: IncomingHttpHeaders, body: string }

/** A loopback receiver that answers each request with the next of `answers` (the last one repeats). */
async function receiver (t: Teardown, answers: Array<{ status: number, headers?: Record<string, string>, body?: string }>): Promise<{ url: string, received: Received[] }> {
  const received: Received[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString() })
      const answer = answers[Math.min(received.length - 1, answers.length - 1)]!
      res.writeHead(answer.status, answer.headers).end(answer.body ?? '')
    })
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => { server.close(resolve) }) })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received }
}

function transport (t: Teardown, allow: AllowList): { dispatcher: ReturnType<typeof createSafeAgent>, allow: AllowList } {
  const dispatcher = createSafeAgent({ allow })
  t.teardown(async () => { await dispatcher.close() })
  return { dispatcher, allow }
}

const LOCAL = parseAllowList('127.0.0.1')

test('signature: matches the Standard Webhooks reference library', async (t) => {
  const secret = generateWebhookSecret()
  t.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/)
  const at = new Date(1_700_000_000_000)
  const body = '{"type":"job.completed","data":{"id":"j1"}}'
  t.equal(signWebhook(secret, 'msg_1', Math.floor(at.getTime() / 1000), body), new Webhook(secret).sign('msg_1', at, body))
})

test('429 with Retry-After: 2 twice, then 200: three attempts recorded, waits follow Retry-After, same id, signatures verify', async (t) => {
  const hook = await receiver(t, [
    { status: 429, headers: { 'retry-after': '2' } },
    { status: 429, headers: { 'retry-after': '2' } },
    { status: 200, body: 'thanks' }
  ])
  const secret = generateWebhookSecret()
  const body = JSON.stringify({ type: 'batch.finished', timestamp: new Date().toISOString(), data: { id: 'b1', total: 51 } })
  const recorded: Array<{ attempt: DeliveryAttempt, number: number, next: NextStep }> = []
  const outcome = await sendWebhook({ url: hook.url, id: 'msg_batch_b1', body, secret }, transport(t, LOCAL), {
    record: (attempt, number, next) => { recorded.push({ attempt, number, next }) }
  })

  t.same(outcome, { state: 'delivered', attempts: 3 })
  t.same(recorded.map((r) => r.attempt.status), [429, 429, 200])
  t.same(recorded.map((r) => r.number), [1, 2, 3])
  t.same(recorded.map((r) => r.attempt.retryAfterMs), [2000, 2000, null])
  t.same(recorded.map((r) => r.next), [{ kind: 'retry', delayMs: 2000 }, { kind: 'retry', delayMs: 2000 }, { kind: 'delivered' }], 'Retry-After replaces the 5 s / 5 min of the schedule')
  t.ok(recorded.every((r) => r.attempt.error === null && typeof r.attempt.durationMs === 'number' && !Number.isNaN(Date.parse(r.attempt.at))))

  t.equal(hook.received.length, 3)
  for (const [i, gap] of [hook.received[1]!.at - hook.received[0]!.at, hook.received[2]!.at - hook.received[1]!.at].entries()) {
    t.ok(gap >= 1900, `retry ${i + 1} waited the 2 s asked (${gap} ms)`)
  }
  t.same(new Set(hook.received.map((r) => r.headers['webhook-id'])), new Set(['msg_batch_b1']), 'webhook-id is stable across retries')
  const verifier = new Webhook(secret)
  for (const r of hook.received) {
    t.equal(r.body, body)
    t.match(r.headers['webhook-timestamp'], /^\d{10}$/, 'Unix seconds')
    t.same(verifier.verify(r.body, r.headers as Record<string, string>), JSON.parse(body), 'the reference library verifies it')
  }
  t.throws(() => verifier.verify(body.replace('51', '52'), hook.received[0]!.headers as Record<string, string>), 'a changed body does not verify')
  t.throws(() => new Webhook(generateWebhookSecret()).verify(body, hook.received[0]!.headers as Record<string, string>), 'another secret does not verify')
})

test('a callback to 127.0.0.1 without the allow-list is refused, recorded, and not retried', async (t) => {
  const hook = await receiver(t, [{ status: 200 }])
  const recorded: DeliveryAttempt[] = []
  const outcome = await sendWebhook({ url: hook.url, id: 'msg_2', body: '{}', secret: generateWebhookSecret() }, transport(t, NO_ALLOW_LIST), {
    record: (attempt) => { recorded.push(attempt) }
  })
  t.same(outcome, { state: 'failed', attempts: 1 })
  t.match(recorded, [{ status: null, error: { code: 'ADDRESS_NOT_ALLOWED', message: /127\.0\.0\.1.*loopback/ }, retryAfterMs: null }])
  t.equal(hook.received.length, 0, 'nothing reached the receiver')
})

test('410 disables; a redirect is not followed; the body read is capped', async (t) => {
  const gone = await receiver(t, [{ status: 410 }])
  const recorded: DeliveryAttempt[] = []
  const disabled = await sendWebhook({ url: gone.url, id: 'msg_3', body: '{}', secret: generateWebhookSecret() }, transport(t, LOCAL), { record: (a) => { recorded.push(a) } })
  t.same(disabled, { state: 'disabled', attempts: 1 })

  const moved = await receiver(t, [{ status: 302, headers: { location: 'http://127.0.0.1:1/elsewhere' } }, { status: 200 }])
  const steps: NextStep[] = []
  const redirected = await sendWebhook({ url: moved.url, id: 'msg_4', body: '{}', secret: generateWebhookSecret() }, transport(t, LOCAL), {
    schedule: [0],
    record: (_a, _n, next) => { steps.push(next) }
  })
  t.same(redirected, { state: 'delivered', attempts: 2 }, 'the 302 counts as a failed attempt; the retry goes to the same URL')
  t.equal(moved.received.length, 2)
  t.same(steps.map((s) => s.kind), ['retry', 'delivered'])

  const chatty = await receiver(t, [{ status: 500, body: 'x'.repeat(5_000_000) }])
  const big = await sendWebhook({ url: chatty.url, id: 'msg_5', body: '{}', secret: generateWebhookSecret() }, transport(t, LOCAL), { schedule: [], record: () => {} })
  t.same(big, { state: 'failed', attempts: 1 }, 'a 5 MB answer is cut, not read whole')
})

test('schedule: immediate, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h; Retry-After within a day; then give up', async (t) => {
  const fail: DeliveryAttempt = { at: new Date().toISOString(), status: 503, error: null, durationMs: 1, retryAfterMs: null }
  t.same(RETRY_SCHEDULE_MS.map((_, i) => nextStep(i + 1, fail)), RETRY_SCHEDULE_MS.map((delayMs) => ({ kind: 'retry', delayMs })))
  t.ok(RETRY_SCHEDULE_MS.reduce((a, b) => a + b, 0) <= 24 * 3_600_000, 'all within a day')
  t.match(nextStep(RETRY_SCHEDULE_MS.length + 1, fail), { kind: 'gave-up' })
  t.same(nextStep(1, { ...fail, retryAfterMs: 7 * 24 * 3_600_000 }), { kind: 'retry', delayMs: 24 * 3_600_000 })
  t.same(nextStep(1, { ...fail, status: 204 }), { kind: 'delivered' })
  t.equal(parseRetryAfter('120'), 120_000)
  t.equal(parseRetryAfter(new Date(Date.now() + 60_000).toUTCString(), Date.now()) !== null, true)
  t.equal(parseRetryAfter('soon'), null)
})
