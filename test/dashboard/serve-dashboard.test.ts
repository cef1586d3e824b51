import { gunzipSync } from 'node:zlib'
import { test } from 'tap'
import { TOKENS } from '../helper.ts'
import { startLiveServer } from './live-server.ts'

test('under a prefix: /jobs redirects to /jobs/, every URL of the page is relative, assets are gzipped and revalidated', async (t) => {
  const { base } = await startLiveServer(t, {}, '/jobs')
  const origin = new URL(base).origin
  const bare = await fetch(`${origin}/jobs?token=abc`, { redirect: 'manual' })
  t.equal(bare.status, 308)
  t.equal(bare.headers.get('location'), '/jobs/?token=abc', 'the query is kept')

  const page = await fetch(base)
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /^text\/html/)
  const html = await page.text()
  t.notMatch(html, /(?:href|src)="\//, 'no absolute URL in the page')
  const map = JSON.parse(/<script type="importmap">(.*?)<\/script>/s.exec(html)![1]!) as { imports: Record<string, string> }
  t.same(Object.keys(map.imports).sort(), ['@preact/signals', '@preact/signals-core', 'htm', 'preact', 'preact/hooks'])
  for (const url of [...Object.values(map.imports), 'dashboard/app.js', 'dashboard/client.js', 'dashboard/style.css']) {
    t.notOk(url.startsWith('/'), `${url} is relative`)
    const res = await fetch(new URL(url, base), { headers: { 'accept-encoding': 'gzip' } })
    t.equal(res.status, 200, `${url} is served`)
  }
  // The client is bundled from TypeScript: one module, no type left in it, nothing imported.
  const client = await (await fetch(new URL('dashboard/client.js', base))).text()
  t.match(client, /export\s*\{/)
  t.notMatch(client, /^import /m, 'self-contained')

  const raw = await import('node:http')
  const gz = await new Promise<{ encoding: string | undefined, body: Buffer, etag: string }>((resolve, reject) => {
    raw.get(new URL('dashboard/vendor/preact.js', base), { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
        resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks), etag: String(res.headers.etag) })
      })
    }).on('error', reject)
  })
  t.equal(gz.encoding, 'gzip')
  t.match(gunzipSync(gz.body).toString(), /export\s*\{/, 'the vendored Preact ES module')
  const again = await fetch(new URL('dashboard/vendor/preact.js', base), { headers: { 'if-none-match': gz.etag } })
  t.equal(again.status, 304, 'revalidated with its ETag')
  t.equal((await fetch(new URL('dashboard/nope.js', base))).status, 404)
  t.equal((await fetch(new URL('dashboard/../package.json', base))).status, 404, 'nothing outside the page\'s files')
})

test('dashboard/session says whether the cookie signs someone in, without a 401', async (t) => {
  const { base } = await startLiveServer(t)
  const anonymous = await fetch(new URL('dashboard/session', base))
  t.equal(anonymous.status, 200)
  t.same(await anonymous.json(), { signedIn: false, user: null, batches: true })
  const signIn = await fetch(new URL('api/session', base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKENS.bob }) })
  const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!
  const signed = await fetch(new URL('dashboard/session', base), { headers: { cookie } })
  t.same(await signed.json(), { signedIn: true, user: 'bob', batches: true })
})
