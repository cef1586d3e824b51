import { Type } from 'typebox'
import { defineJob } from '../core/define-job.ts'
import { JobcastError } from '../errors.ts'

/** Result of one URL check. */
interface UrlCheck {
  url: string
  ok: boolean
  status: number | null
  timeMs: number | null
  error?: { code: string, message: string }
}

/** Checks many URLs with bounded concurrency and a per-URL timeout; some URLs failing does not fail the job. */
export default defineJob({
  type: 'http-check',
  description: 'Checks every URL (status and time to response) with at most `concurrency` at once and a per-URL timeout.',
  input: Type.Object({
    urls: Type.Array(Type.String({ pattern: '^https?://', format: 'uri' }), { minItems: 1, maxItems: 10_000 }),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 10 })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 120_000, default: 10_000 }))
  }, { additionalProperties: false }),
  async run (ctx) {
    const { urls } = ctx.input
    const outcome = await ctx.map(urls, async (url, _index, signal) => {
      const started = performance.now()
      const response = await fetch(url, { signal, redirect: 'follow' }).catch((err: unknown) => {
        throw signal.aborted ? signal.reason : networkError(err)
      })
      const timeMs = Math.round(performance.now() - started)
      // Only the status matters: release the connection without reading the body.
      await response.body?.cancel().catch(() => {})
      return { status: response.status, ok: response.ok, timeMs }
    }, { concurrency: ctx.input.concurrency ?? 10, timeoutMs: ctx.input.timeoutMs ?? 10_000, label: 'URL' })

    const results: UrlCheck[] = outcome.outcomes.map((o) => o.ok
      ? { url: urls[o.index]!, ...o.value }
      : { url: urls[o.index]!, ok: false, status: null, timeMs: null, error: o.error })
    const ok = results.filter((r) => r.ok).length
    return { total: urls.length, ok, failed: urls.length - ok, results }
  }
})

// fetch() says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND…) is in its cause.
function networkError (err: unknown): JobcastError {
  const cause = (err as { cause?: { code?: unknown, message?: unknown } } | null)?.cause
  const code = typeof cause?.code === 'string' ? cause.code : 'FETCH_FAILED'
  const message = typeof cause?.message === 'string' ? cause.message : err instanceof Error ? err.message : String(err)
  return new JobcastError(code, message)
}
