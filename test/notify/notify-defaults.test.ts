import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'
import { test } from 'tap'
import { parseAllowList } from '../../src/net/address-policy.ts'
import type { BatchView } from '../../src/schemas/batch.ts'
import { sendBatch, waitForBatch } from '../batches/batch-fixtures.ts'
import { AUTH, build, deferred, startJob, waitForState, type Teardown } from '../helper.ts'
import { within } from '../ports/fixtures.ts'
import { listen } from '../sse/fixtures.ts'

interface Received { headers: IncomingHttpHeaders, body: string }

// A loopback webhook receiver that answers 200; `next()` resolves with the next request it gets.
async function receiver (t: Teardown): Promise<{ url: string, next: () => Promise<Received> }> {
  const queue: Received[] = []
  const waiting: Array<(r: Received) => void> = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      res.writeHead(200).end('ok')
      const received = { headers: req.headers, body: Buffer.concat(chunks).toString() }
      const waiter = waiting.shift()
      if (waiter === undefined) queue.push(received)
      else waiter(received)
    })
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => { server.close(resolve) }) })
  const next = async (): Promise<Received> => {
    const ready = queue.shift()
    if (ready !== undefined) return ready
    const d = deferred<Received>()
    waiting.push(d.resolve)
    return await within(d.promise, 20_000, 'a webhook')
  }
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, next }
}

test('notify defaults over HTTP: checked as a start\'s notify (400, 422 for a private literal address), set, read, replaced, cleared', async (t) => {
  const app = await build(t, { allowPrivateUrls: parseAllowList('127.0.0.1') })
  const put = async (payload: unknown, user: keyof typeof AUTH = 'alice'): Promise<{ status: number, body: Record<string, unknown> }> => {
    const res = await app.inject({ method: 'PUT', url: '/api/notify-defaults', headers: { ...AUTH[user], 'content-type': 'application/json' }, payload: JSON.stringify(payload) })
    return { status: res.statusCode, body: res.json() }
  }
  const get = async (user: keyof typeof AUTH = 'alice'): Promise<unknown> => (await app.inject({ method: 'GET', url: '/api/notify-defaults', headers: AUTH[user] })).json()

  t.same(await get(), {}, 'none at first')
  for (const [what, payload, status, code] of [
    ['not http(s)', { webhook: 'ftp://hooks.example/x' }, 400, 'INVALID_NOTIFY'],
    ['not a URL', { webhook: 'hooks' }, 400, 'INVALID_NOTIFY'],
    ['credentials in the URL', { webhook: 'https://u:p@hooks.example/x' }, 400, 'INVALID_NOTIFY'],
    ['not an email address', { email: 'alice' }, 400, 'INVALID_NOTIFY'],
    ['an unknown key', { sms: '+5215555555555' }, 400, 'INVALID_NOTIFY'],
    ['not an object', ['https://hooks.example/x'], 400, 'INVALID_NOTIFY'],
    ['the metadata address', { webhook: 'http://169.254.169.254/latest' }, 422, 'CALLBACK_NOT_ALLOWED'],
    ['a private address', { webhook: 'http://10.0.0.7/hook' }, 422, 'CALLBACK_NOT_ALLOWED'],
    ['loopback IPv6', { webhook: 'http://[::1]:8080/hook' }, 422, 'CALLBACK_NOT_ALLOWED']
  ] as const) {
    const res = await put(payload)
    t.equal(res.status, status, `${what}: ${status}`)
    t.equal(res.body.code, code, what)
  }
  t.same(await get(), {}, 'nothing refused was stored')

  t.same((await put({ webhook: 'https://hooks.example/a', email: 'alice@example.com' })).body, { webhook: 'https://hooks.example/a', email: 'alice@example.com' })
  t.same(await get(), { webhook: 'https://hooks.example/a', email: 'alice@example.com' })
  t.same(await get('bob'), {}, 'per user')
  t.same((await put({ email: 'ops@example.com' })).body, { email: 'ops@example.com' })
  t.same(await get(), { email: 'ops@example.com' }, 'replaced as a whole')
  t.same((await put({})).body, {})
  t.same(await get(), {}, '{} clears them')
  await put({ email: 'ops@example.com' })
  const cleared = await app.inject({ method: 'DELETE', url: '/api/notify-defaults', headers: AUTH.alice })
  t.equal(cleared.statusCode, 204)
  t.same(await get(), {}, 'DELETE clears them')
  t.equal((await app.inject({ method: 'GET', url: '/api/notify-defaults' })).statusCode, 401, 'signed in only')
})

test('notify defaults apply to a job or batch started without notify: delivered and signed; per user; an explicit notify wins, null opts out', async (t) => {
  const hook = await receiver(t)
  const app = await build(t, { allowPrivateUrls: parseAllowList('127.0.0.1'), pollMs: 100 })
  const base = await listen(app)
  const { store } = app.jobcast.service
  const targetsOf = async (id: string): Promise<Array<[string, string]>> => (await store.deliveries(id)).map((d) => [d.channel, d.target] as [string, string]).sort()
  const set = await app.inject({ method: 'PUT', url: '/api/notify-defaults', headers: AUTH.alice, payload: { webhook: hook.url, email: 'alice@example.com' } })
  t.equal(set.statusCode, 200)

  const job = await startJob(app, 'alice', 'sleep', { seconds: 0 })
  await waitForState(app, 'alice', job.id, 'completed')
  // Deliveries are written in the commit of the terminal state: there to read as soon as the job is.
  t.same(await targetsOf(job.id), [['email', 'alice@example.com'], ['webhook', hook.url]], 'the defaults became the job\'s deliveries')
  const delivered = await hook.next()
  const payload = new Webhook(await store.webhookSecret('alice')).verify(delivered.body, delivered.headers as Record<string, string>) as { type: string, data: { id: string } }
  t.match(payload, { type: 'job.completed', data: { id: job.id } }, 'delivered, signed with alice\'s secret')

  const bobs = await startJob(app, 'bob', 'sleep', { seconds: 0 })
  await waitForState(app, 'bob', bobs.id, 'completed')
  t.same(await targetsOf(bobs.id), [], 'another user\'s start does not use alice\'s defaults')

  const explicit = await startJob(app, 'alice', 'sleep', { seconds: 0, notify: { email: 'other@example.com' } })
  await waitForState(app, 'alice', explicit.id, 'completed')
  t.same(await targetsOf(explicit.id), [['email', 'other@example.com']], 'a start\'s own notify replaces the defaults')

  const none = await startJob(app, 'alice', 'sleep', { seconds: 0, notify: null })
  await waitForState(app, 'alice', none.id, 'completed')
  t.same(await targetsOf(none.id), [], 'notify: null opts out')

  const files = [{ name: 'a.csv', body: 'x,y\n1,2\n' }, { name: 'b.csv', body: 'x,y\n3,4\n' }]
  const res = await sendBatch(base, 'documents', files, { headers: { 'idempotency-key': 'invoices-1' } })
  t.equal(res.status, 202)
  const batch = await res.json() as BatchView
  await waitForBatch(app, 'alice', batch.id, (b) => b.done)
  t.same(await targetsOf(batch.id), [['email', 'alice@example.com'], ['webhook', hook.url]], 'a batch without notify uses the defaults')
  const batchHook = await hook.next()
  t.match(JSON.parse(batchHook.body), { type: 'batch.done', data: { id: batch.id } })
  for (const child of batch.jobs) t.same(await targetsOf(child.id), [], 'its children notify nobody: the batch tells')

  await app.inject({ method: 'PUT', url: '/api/notify-defaults', headers: AUTH.alice, payload: { email: 'changed@example.com' } })
  const replay = await sendBatch(base, 'documents', files, { headers: { 'idempotency-key': 'invoices-1' } })
  t.equal(replay.status, 202, 'a replay after the defaults changed is still the same request')
  t.equal(replay.headers.get('idempotent-replayed'), 'true')
  t.equal((await replay.json() as BatchView).id, batch.id)

  const quiet = await sendBatch(base, 'documents', files, { notify: {} })
  const quietBatch = await quiet.json() as BatchView
  await waitForBatch(app, 'alice', quietBatch.id, (b) => b.done)
  t.same(await targetsOf(quietBatch.id), [], 'a batch with notify {} opts out')
})
