import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { test } from 'tap'
import { webhookSecretCommand } from '../../src/cli/webhook-secret.ts'
import type { DeliveryRecord } from '../../src/core/batch-model.ts'
import { parseAllowList } from '../../src/net/address-policy.ts'
import type { BatchView } from '../../src/schemas/batch.ts'
import { pollUntil } from '../child-server.ts'
import { AUTH, build, deferred, startJob, waitForState, type Teardown } from '../helper.ts'
import { within } from '../ports/fixtures.ts'
import { smtpReceiver } from '../notify/smtp-receiver.ts'
import { listen } from '../sse/fixtures.ts'
import { sendBatch } from './batch-fixtures.ts'

interface Received { at: number, headers: IncomingHttpHeaders, body: string }

// A webhook receiver on loopback that answers each request with the next of `statuses` (then 200).
async function receiver (t: Teardown, statuses: Array<{ status: number, headers?: Record<string, string> }>): Promise<{ url: string, received: Received[], count: (n: number) => Promise<void> }> {
  const received: Received[] = []
  const waiters: Array<{ n: number, resolve: () => void }> = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ at: Date.now(), headers: req.headers, body: Buffer.concat(chunks).toString() })
      const answer = statuses[received.length - 1] ?? { status: 200 }
      res.writeHead(answer.status, answer.headers).end('ok')
      for (const w of waiters) if (received.length >= w.n) w.resolve()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { await new Promise((resolve) => server.close(resolve)) })
  const count = async (n: number): Promise<void> => {
    if (received.length >= n) return
    const d = deferred()
    waiters.push({ n, resolve: d.resolve })
    await d.promise
  }
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, count }
}

async function deliveriesOf (base: string, path: string, until: (d: DeliveryRecord[]) => boolean): Promise<DeliveryRecord[]> {
  return await pollUntil(async () => {
    const list = await (await fetch(`${base}${path}`, { headers: AUTH.alice })).json() as DeliveryRecord[]
    return until(list) ? list : undefined
  }, `deliveries at ${path}`, 20_000, 50)
}

test('a batch ends: the webhook gets 429 with Retry-After: 2 twice, then 200 — delivered on the third attempt, waits honored, signed; an email arrives', async (t) => {
  const hook = await receiver(t, [{ status: 429, headers: { 'retry-after': '2' } }, { status: 429, headers: { 'retry-after': '2' } }])
  const smtp = await smtpReceiver(t)
  const app = await build(t, { allowPrivateUrls: parseAllowList('127.0.0.1'), smtpUrl: smtp.url, pollMs: 100 })
  const base = await listen(app)

  const res = await sendBatch(base, 'documents', [{ name: 'a.csv', body: 'x,y\n1,2\n' }, { name: 'b.csv', body: 'x,y\n3,4\n' }], { notify: { webhook: hook.url, email: 'ops@example.com' } })
  t.equal(res.status, 202)
  const batch = await res.json() as BatchView

  const mail = await within(smtp.first, 20_000, 'the email')
  t.match(mail.raw, /^To: ops@example\.com/m)
  t.match(mail.raw, /batch documents finished: 2 of 2 completed/)
  t.match(mail.raw, new RegExp(batch.id))

  await within(hook.count(3), 20_000, 'three webhook attempts')
  const [first, second, third] = hook.received
  t.ok(second!.at - first!.at >= 1900, `the second attempt waited for Retry-After (${second!.at - first!.at} ms)`)
  t.ok(third!.at - second!.at >= 1900, `the third attempt waited for Retry-After (${third!.at - second!.at} ms)`)
  t.equal(new Set(hook.received.map((r) => r.headers['webhook-id'])).size, 1, 'one webhook-id across the retries')
  t.equal(first!.body, third!.body, 'the same body on every attempt')

  const secretOut: string[] = []
  await webhookSecretCommand(['alice'], { dataDir: app.jobcast.config.dataDir }, { stdout: { write: (s) => secretOut.push(s) }, stderr: { write: () => {} } })
  const secret = secretOut.join('').trim()
  t.match(secret, /^whsec_/)
  const payload = new Webhook(secret).verify(third!.body, third!.headers as Record<string, string>) as { type: string, data: { id: string, done: boolean, completed: number } }
  t.match(payload, { type: 'batch.done', data: { id: batch.id, done: true, completed: 2 } }, 'the signature verifies with standardwebhooks and the user\'s secret')

  const deliveries = await deliveriesOf(base, `/api/batches/${batch.id}/deliveries`, (list) => list.some((d) => d.channel === 'webhook' && d.state === 'delivered') && list.some((d) => d.channel === 'email' && d.state === 'delivered'))
  const webhook = deliveries.find((d) => d.channel === 'webhook')!
  t.same(webhook.attempts.map((a) => [a.number, a.status, a.retryAfterMs]), [[1, 429, 2000], [2, 429, 2000], [3, 200, null]], 'three attempts recorded')
  t.equal(webhook.id, hook.received[0]!.headers['webhook-id'])

  const rotated = await (await fetch(`${base}/api/webhook-secret`, { method: 'POST', headers: AUTH.alice })).json() as { secret: string }
  t.match(rotated.secret, /^whsec_/)
  t.not(rotated.secret, secret, 'rotation gives a new secret')
  t.equal(await app.jobcast.service.store.webhookSecret('alice'), rotated.secret)
})

test('without the allow-list a callback to loopback is refused: a literal address at the start (422), a name at connect time (recorded)', async (t) => {
  const hook = await receiver(t, [])
  const app = await build(t, { pollMs: 100 })
  const literal = await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers: AUTH.alice, payload: { seconds: 0, notify: { webhook: hook.url } } })
  t.equal(literal.statusCode, 422)
  t.equal(literal.json<{ code: string }>().code, 'CALLBACK_NOT_ALLOWED')

  const named = hook.url.replace('127.0.0.1', 'localhost')
  const job = await startJob(app, 'alice', 'sleep', { seconds: 0, notify: { webhook: named } })
  t.notOk('notify' in (job.input as object), 'notify is kept out of the job input')
  await waitForState(app, 'alice', job.id, 'completed')
  const base = await listen(app)
  const [delivery] = await deliveriesOf(base, `/api/jobs/${job.id}/deliveries`, (list) => list[0]?.state === 'failed')
  t.equal(delivery!.attempts.length, 1, 'refused once, not retried')
  t.equal(delivery!.attempts[0]!.error?.code, 'ADDRESS_NOT_ALLOWED')
  t.equal(delivery!.attempts[0]!.status, null)
  t.equal(hook.received.length, 0, 'nothing reached the receiver')
})
