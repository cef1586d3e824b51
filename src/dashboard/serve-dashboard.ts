import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'

/** The ES modules the page imports by bare name (its import map points them at vendor/), from node_modules as installed. */
const VENDOR: Record<string, string> = {
  preact: 'preact',
  'preact/hooks': 'preact-hooks',
  '@preact/signals-core': 'signals-core',
  '@preact/signals': 'signals',
  htm: 'htm'
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

// An asset as served: the bytes, their gzip, and an ETag; all are small, so they are kept in memory from the start.
interface Asset {
  type: string
  body: Buffer
  gzip: Buffer
  etag: string
}

const asset = (type: string, text: string): Asset => {
  const body = Buffer.from(text)
  return { type, body, gzip: gzipSync(body, { level: 9 }), etag: `"${createHash('sha1').update(body).digest('base64url')}"` }
}

/** The jobcast/client module for the browser: the bundle a build made, else bundled now from the TypeScript source (a checkout). */
async function clientModule (): Promise<string> {
  const built = new URL('./client.bundle.js', import.meta.url)
  if (existsSync(built)) return await readFile(built, 'utf8')
  const { build } = await import('esbuild')
  const out = await build({
    entryPoints: [fileURLToPath(new URL('../client/index.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    write: false,
    legalComments: 'none'
  })
  return out.outputFiles[0]!.text
}

/** The import map of the page: bare names to vendor files, relative to the page so that any mount prefix works. */
const importMap = (): string => JSON.stringify({
  imports: Object.fromEntries(Object.entries(VENDOR).map(([name, file]) => [name, `./dashboard/vendor/${file}.js`]))
})

/** The CSP source of the page's one inline script, the import map (a hash, so that no other inline script runs). */
export function dashboardScriptHash (): string {
  return `'sha256-${createHash('sha256').update(importMap()).digest('base64')}'`
}

/** Reads the page's files, the vendored modules and the client once, at registration. */
async function loadAssets (): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>()
  const dir = new URL('./public/', import.meta.url)
  for (const name of await readdir(dir)) {
    const ext = name.slice(name.lastIndexOf('.'))
    if (TYPES[ext] === undefined) continue
    let text = await readFile(new URL(name, dir), 'utf8')
    if (name === 'index.html') text = text.replace('{{IMPORT_MAP}}', importMap())
    assets.set(name === 'index.html' ? '' : `dashboard/${name}`, asset(TYPES[ext]!, text))
  }
  for (const [specifier, file] of Object.entries(VENDOR)) {
    // Served as installed; only the source-map comment goes (the maps are not served).
    const text = (await readFile(fileURLToPath(import.meta.resolve(specifier)), 'utf8')).replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n')
    assets.set(`dashboard/vendor/${file}.js`, asset(TYPES['.js']!, text))
  }
  assets.set('dashboard/client.js', asset(TYPES['.js']!, await clientModule()))
  return assets
}

const send = async (request: FastifyRequest, reply: FastifyReply, file: Asset): Promise<FastifyReply> => {
  // no-cache: revalidated every load, so a new version is seen at once; a 304 costs a round trip and no bytes.
  reply.header('etag', file.etag).header('cache-control', 'no-cache').header('vary', 'accept-encoding').type(file.type)
  if (request.headers['if-none-match'] === file.etag) return await reply.code(304).send()
  if (/\bgzip\b/.test(request.headers['accept-encoding'] ?? '')) {
    return await reply.header('content-encoding', 'gzip').send(file.gzip)
  }
  return await reply.send(file.body)
}

/**
 * The dashboard: GET / (the page), GET dashboard/* (its modules, the vendored Preact, htm and signals, and the
 * client), and GET dashboard/session (whether the cookie signs someone in, and whether there are batches, answered
 * without a 401 or 404 so that the page logs no error). Every URL the page uses is relative to it, so it works under any mount prefix.
 */
/** Options of the dashboard routes. */
export interface DashboardOptions {
  /** The hook that signs a request in (sets `request.jobcastUser`) or throws a 401. */
  authenticate: onRequestAsyncHookHandler
}

const dashboard: FastifyPluginAsync<DashboardOptions> = async (fastify, { authenticate }) => {
  const assets = await loadAssets()
  const page = assets.get('')!

  fastify.get('/', { schema: { summary: 'The dashboard page', hide: true } }, async (request, reply) => {
    // Under a prefix `/jobs` and `/jobs/` both land here; the page's relative URLs need the trailing slash.
    const [path, query] = request.url.split('?', 2)
    if (!path!.endsWith('/')) return await reply.redirect(`${path!}/${query === undefined ? '' : `?${query}`}`, 308)
    reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer')
    return await send(request, reply, page)
  })

  fastify.get('/dashboard/session', { schema: { hide: true } }, async (request, reply) => {
    // Whether the batches API exists, so that the page does not ask for it and log a 404 when it does not.
    const batches = fastify.hasRoute({ method: 'GET', url: `${fastify.prefix}/api/batches` })
    try {
      await authenticate.call(fastify, request, reply)
      return { signedIn: true, user: request.jobcastUser, batches }
    } catch {
      return { signedIn: false, user: null, batches }
    }
  })

  fastify.get<{ Params: { '*': string } }>('/dashboard/*', { schema: { hide: true } }, async (request, reply) => {
    const file = assets.get(`dashboard/${request.params['*']}`)
    if (file === undefined) return await reply.code(404).send({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: `no dashboard file "${request.params['*']}"` })
    return await send(request, reply, file)
  })
}
export default dashboard
