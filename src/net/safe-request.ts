// One outbound HTTP request through the safe agent: each redirect hop checked, bounded time, bounded body.

import type { Agent, Dispatcher } from 'undici'
import { JobcastError } from '../errors.ts'
import { assertUrlAllowed, type AllowList } from './address-policy.ts'

/** Options of {@link safeRequest}. */
export interface SafeRequestOptions {
  /** The agent from `createSafeAgent` (it checks every address at connect time). */
  dispatcher: Agent
  /** The same allow-list the agent has: used to check each URL before connecting. */
  allow: AllowList
  /** Default 'GET'. */
  method?: 'GET' | 'HEAD' | 'POST'
  headers?: Record<string, string>
  body?: string | Buffer
  /** Time for the whole exchange, every hop included, in ms. */
  timeoutMs: number
  /** Redirects followed, each hop checked like the first URL (default 0: a 3xx is returned as it is). */
  maxRedirects?: number
  /** Bytes of the response body kept; the rest is discarded unread (default 0: the body is not read). */
  maxBodyBytes?: number
  /** Aborts the exchange; its reason is what rejects. */
  signal?: AbortSignal
}

/** The final response of a {@link safeRequest}. */
export interface SafeResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  /** At most `maxBodyBytes` of the body. */
  body: Buffer
  /** Whether the body went on past `maxBodyBytes`. */
  truncated: boolean
  /** The URL that gave this response (after redirects). */
  url: string
  /** URLs redirected to, in order. */
  redirects: string[]
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/** Error code of an exchange past its `timeoutMs`. */
export const REQUEST_TIMEOUT = 'REQUEST_TIMEOUT'

/** Sends one request; never follows a redirect without checking it, never reads more body than asked. */
export async function safeRequest (url: string | URL, options: SafeRequestOptions): Promise<SafeResponse> {
  const timeout = AbortSignal.timeout(options.timeoutMs)
  const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout])
  const redirects: string[] = []
  let target = typeof url === 'string' ? new URL(url) : url
  let method = options.method ?? 'GET'
  let body = options.body
  let headers = options.headers ?? {}
  // Loaded on the first request: undici is ~20 MiB of a process's memory, which a server that never sends one keeps.
  const { request } = await import('undici')
  try {
    for (;;) {
      assertUrlAllowed(target, options.allow)
      const response = await request(target, { method, headers, body, signal, dispatcher: options.dispatcher })
      const location = response.headers.location
      if (REDIRECTS.has(response.statusCode) && typeof location === 'string' && redirects.length < (options.maxRedirects ?? 0)) {
        await response.body.dump().catch(() => {})
        const next = new URL(location, target)
        if (next.origin !== target.origin) headers = withoutCredentials(headers)
        if (response.statusCode === 303 || ((response.statusCode === 301 || response.statusCode === 302) && method === 'POST')) {
          method = 'GET'
          body = undefined
        }
        redirects.push(next.href)
        target = next
        continue
      }
      const { bytes, truncated } = await readCapped(response.body, options.maxBodyBytes ?? 0)
      return { status: response.statusCode, headers: response.headers, body: bytes, truncated, url: target.href, redirects }
    }
  } catch (err) {
    if (options.signal?.aborted === true) throw options.signal.reason
    if (timeout.aborted) throw new JobcastError(REQUEST_TIMEOUT, `no complete answer within ${options.timeoutMs} ms`)
    throw err
  }
}

/** The body's first `cap` bytes; the connection is released without reading the rest. */
async function readCapped (body: Dispatcher.ResponseData['body'], cap: number): Promise<{ bytes: Buffer, truncated: boolean }> {
  // Destroying the body aborts the exchange on purpose; that abort is not an error of the request.
  body.on('error', () => {})
  if (cap <= 0) {
    body.destroy()
    return { bytes: Buffer.alloc(0), truncated: false }
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size + chunk.length > cap) {
      chunks.push(chunk.subarray(0, cap - size))
      body.destroy()
      return { bytes: Buffer.concat(chunks), truncated: true }
    }
    chunks.push(chunk)
    size += chunk.length
  }
  return { bytes: Buffer.concat(chunks), truncated: false }
}

function withoutCredentials (headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !/^(authorization|cookie|proxy-authorization)$/i.test(name)))
}
