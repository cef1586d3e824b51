import { Type } from 'typebox'
import { defineJob, type JobDefinition } from '../core/define-job.ts'
import { JobcastError } from '../errors.ts'
import type { AllowList } from '../net/address-policy.ts'
import { safeRequest } from '../net/safe-request.ts'

/** Result of one URL check. */
interface UrlCheck {
  url: string
  ok: boolean
  status: number | null
  timeMs: number | null
  /** URLs redirected to, when any were followed. */
  redirects?: string[]
  error?: { code: string, message: string }
}

/** Error code of a URL not checked within the job's overall time limit. */
export const TIME_LIMIT = 'TIME_LIMIT'

/** Redirect hops followed per URL, each one checked against the address policy. */
const MAX_REDIRECTS = 5

/** Options of {@link httpCheckJob}. */
export interface HttpCheckOptions {
  /** Hosts and ranges reachable although not public (`JOBCAST_ALLOW_PRIVATE_URLS`). */
  allow: AllowList
  /** Most URLs in one job. */
  maxUrls: number
  /** Most URLs fetched at once by one job. */
  maxConcurrency: number
  /** Time for all the job's URLs, in ms: URLs not done by then fail with TIME_LIMIT and the job completes. */
  timeLimitMs: number
}

/**
 * Checks many URLs with bounded concurrency, a per-URL timeout and an overall time limit; some URLs failing does
 * not fail the job. Loopback, private, link-local, CGNAT and metadata addresses are refused (after DNS, and on
 * every redirect hop) unless allow-listed, so the job cannot be used to map the server's own network.
 */
export function httpCheckJob (options: HttpCheckOptions): JobDefinition {
  return defineJob({
    type: 'http-check',
    description: 'Checks every URL (status and time to response) with at most `concurrency` at once, a per-URL timeout and an overall time limit; non-public addresses are refused.',
    input: Type.Object({
      urls: Type.Array(Type.String({ pattern: '^https?://', format: 'uri', maxLength: 2048 }), { minItems: 1, maxItems: options.maxUrls }),
      concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: options.maxConcurrency, default: Math.min(10, options.maxConcurrency) })),
      timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 120_000, default: 10_000 }))
    }, { additionalProperties: false }),
    // A backstop only: the job's own deadline ends it first, with every URL accounted for.
    timeoutMs: options.timeLimitMs + 30_000,
    async run (ctx) {
      const { urls } = ctx.input
      const timeoutMs = ctx.input.timeoutMs ?? 10_000
      const concurrency = ctx.input.concurrency ?? Math.min(10, options.maxConcurrency)
      const deadline = AbortSignal.timeout(options.timeLimitMs)
      // Imported here, not at load: see safeRequest.
      const { createSafeAgent } = await import('../net/safe-agent.ts')
      const dispatcher = createSafeAgent({ allow: options.allow, connections: concurrency })
      try {
        const outcome = await ctx.map(urls, async (url, _index, signal) => {
          if (deadline.aborted) throw timeLimit(options.timeLimitMs)
          const started = performance.now()
          const response = await safeRequest(url, {
            dispatcher,
            allow: options.allow,
            // The per-URL limit is the map's (ITEM_TIMEOUT); this one only backs it up.
            timeoutMs: timeoutMs + 1000,
            maxRedirects: MAX_REDIRECTS,
            signal: AbortSignal.any([signal, deadline])
          }).catch((err: unknown) => {
            if (signal.aborted) throw signal.reason
            if (deadline.aborted) throw timeLimit(options.timeLimitMs)
            throw err instanceof JobcastError ? err : networkError(err)
          })
          const timeMs = Math.round(performance.now() - started)
          return { status: response.status, ok: response.status >= 200 && response.status < 300, timeMs, ...(response.redirects.length > 0 ? { redirects: response.redirects } : {}) }
        }, { concurrency, timeoutMs, label: 'URL' })

        const results: UrlCheck[] = outcome.outcomes.map((o) => o.ok
          ? { url: urls[o.index]!, ...o.value }
          : { url: urls[o.index]!, ok: false, status: null, timeMs: null, error: o.error })
        const ok = results.filter((r) => r.ok).length
        return { total: urls.length, ok, failed: urls.length - ok, results }
      } finally {
        await dispatcher.close()
      }
    }
  }) as JobDefinition
}

function timeLimit (ms: number): JobcastError {
  return new JobcastError(TIME_LIMIT, `not checked within the job's time limit of ${ms} ms`)
}

// undici errors carry their reason (ECONNREFUSED, ENOTFOUND, UND_ERR_…) as `code`, or in a cause.
function networkError (err: unknown): JobcastError {
  const e = err as { code?: unknown, message?: unknown, cause?: { code?: unknown, message?: unknown } } | null
  const code = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : 'FETCH_FAILED'
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : typeof e?.cause?.message === 'string' ? e.cause.message : String(err)
  return new JobcastError(code, message)
}
