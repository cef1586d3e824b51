import type { LookupAddress } from 'node:dns'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import { createSafeAgent, isPublicAddress, NO_ALLOW_LIST, parseAllowList, safeRequest, type AllowList } from '../../src/net/index.ts'
import { loadConfig } from '../../src/config.ts'
import type { Teardown } from '../helper.ts'

/** A loopback server answering `/redirect` with a 302 to `/final` and everything else with 1 KiB of "x". */
async function localServer (t: Teardown): Promise<{ port: number, hits: () => number }> {
  let hits = 0
  const server = createServer((req, res) => {
    hits++
    if (req.url === '/redirect') { res.writeHead(302, { location: '/final' }).end(); return }
    res.end('x'.repeat(1024))
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => { server.close(resolve) }) })
  return { port: (server.address() as AddressInfo).port, hits: () => hits }
}

/** A resolver for made-up names, so that "a public name that resolves to loopback" can be tested offline. */
function fakeLookup (answers: Record<string, string[]>): never {
  return ((hostname: string, _options: unknown, callback: (err: Error | null, addresses: LookupAddress[]) => void) => {
    const list = answers[hostname]
    if (list === undefined) { callback(Object.assign(new Error(`not found: ${hostname}`), { code: 'ENOTFOUND' }), []); return }
    callback(null, list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })))
  }) as never
}

async function codeOf (promise: Promise<unknown>): Promise<string | undefined> {
  return await promise.then(() => undefined, (err: { code?: string }) => err.code)
}

test('address policy: public unicast passes, every special range is refused', async (t) => {
  for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111']) t.ok(isPublicAddress(a), a)
  for (const a of ['127.0.0.1', '10.0.0.1', '172.31.255.255', '192.168.0.1', '100.64.0.1', '169.254.169.254', '0.0.0.0', '255.255.255.255', '224.0.0.1',
    '::1', '::', 'fe80::1', 'fd12::1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '64:ff9b::a00:1', '2002:a00:1::1', 'not-an-ip']) t.notOk(isPublicAddress(a), a)
  t.throws(() => parseAllowList('10.0.0.0/99'), /CIDR/)
  t.throws(() => parseAllowList('bad host!'), /neither/)
  const allow = parseAllowList(' Hooks.Internal , 10.0.0.0/8,::1 ')
  t.same([...allow.hosts], ['hooks.internal'])
  t.equal(allow.cidrs.length, 2)
})

test('safe agent: a name is checked on every address it resolves to, at connect time', async (t) => {
  const local = await localServer(t)
  const lookup = fakeLookup({ 'rebind.example': ['93.184.215.14', '127.0.0.1'], 'hooks.example': ['127.0.0.1'] })
  const request = async (host: string, allow: AllowList): Promise<string | undefined> => {
    const dispatcher = createSafeAgent({ allow, lookup: lookup as never })
    t.teardown(async () => { await dispatcher.close() })
    return await codeOf(safeRequest(`http://${host}:${local.port}/`, { dispatcher, allow, timeoutMs: 3000 }))
  }
  t.equal(await request('rebind.example', NO_ALLOW_LIST), 'ADDRESS_NOT_ALLOWED', 'one loopback answer among public ones is refused')
  t.equal(await request('hooks.example', NO_ALLOW_LIST), 'ADDRESS_NOT_ALLOWED')
  t.equal(local.hits(), 0)
  t.equal(await request('hooks.example', parseAllowList('hooks.example')), undefined, 'an allow-listed host name is reached')
  t.equal(await request('hooks.example', parseAllowList('127.0.0.0/8')), undefined, 'an allow-listed range is reached')
  t.equal(local.hits(), 2)
})

test('safeRequest: redirects are returned unless asked for, the body is capped, the overall time is bounded', async (t) => {
  const local = await localServer(t)
  const allow = parseAllowList('127.0.0.1')
  const dispatcher = createSafeAgent({ allow })
  t.teardown(async () => { await dispatcher.close() })
  const base = `http://127.0.0.1:${local.port}`

  const notFollowed = await safeRequest(`${base}/redirect`, { dispatcher, allow, timeoutMs: 3000 })
  t.equal(notFollowed.status, 302)
  t.same(notFollowed.redirects, [])
  const followed = await safeRequest(`${base}/redirect`, { dispatcher, allow, timeoutMs: 3000, maxRedirects: 1, maxBodyBytes: 10 })
  t.equal(followed.status, 200)
  t.same(followed.redirects, [`${base}/final`])
  t.equal(followed.body.toString(), 'x'.repeat(10))
  t.equal(followed.truncated, true)
  t.equal(await codeOf(safeRequest(`ftp://127.0.0.1:${local.port}/`, { dispatcher, allow, timeoutMs: 3000 })), 'ADDRESS_NOT_ALLOWED')

  // A server that accepts and never answers: the exchange ends at timeoutMs.
  const silent = createServer(() => {})
  await new Promise<void>((resolve) => { silent.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => { silent.closeAllConnections(); await new Promise((resolve) => { silent.close(resolve) }) })
  t.equal(await codeOf(safeRequest(`http://127.0.0.1:${(silent.address() as AddressInfo).port}/`, { dispatcher, allow, timeoutMs: 200 })), 'REQUEST_TIMEOUT')
})

test('JOBCAST_ALLOW_PRIVATE_URLS: parsed at start; a bad entry stops the start naming the variable', async (t) => {
  t.same(loadConfig({}).allowPrivateUrls, { hosts: new Set(), cidrs: [] }, 'empty by default: nothing private is reachable')
  const allow = loadConfig({ JOBCAST_ALLOW_PRIVATE_URLS: 'hooks.internal,127.0.0.1' }).allowPrivateUrls
  t.ok(allow.hosts.has('hooks.internal'))
  t.throws(() => loadConfig({ JOBCAST_ALLOW_PRIVATE_URLS: '10.0.0.0/40' }), /JOBCAST_ALLOW_PRIVATE_URLS.*10\.0\.0\.0\/40/)
})
