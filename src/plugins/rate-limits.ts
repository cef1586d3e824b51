import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ClientError } from '../errors.ts'

/** The window every jobcast rate limit counts in. */
export const RATE_WINDOW_MS = 60_000

/** The 429 of a rate limit, with the seconds to wait. */
export function rateLimited (what: string, retryAfterS: number): ClientError {
  const seconds = Math.max(1, retryAfterS)
  return new ClientError(429, 'RATE_LIMITED', `too many ${what}; try again in ${seconds} s`, { 'retry-after': String(seconds) })
}

/** Counts failed sign-ins per client address; past the limit, every request with credentials gets 429 before they are checked. */
export interface AuthFailureLimiter {
  /** Seconds until the address may try again, or undefined when it may now. */
  blocked: (request: FastifyRequest) => Promise<number | undefined>
  /** Counts one failure of the address. */
  failed: (request: FastifyRequest) => Promise<void>
}

/**
 * Registers @fastify/rate-limit in `scope` (routes opt in with `config.rateLimit`; nothing is limited globally)
 * and returns the limiter of failed authentications, `maxFailures` per address and minute.
 */
export async function registerRateLimits (scope: FastifyInstance, maxFailures: number): Promise<AuthFailureLimiter> {
  await scope.register(fastifyRateLimit, {
    global: false,
    timeWindow: RATE_WINDOW_MS,
    errorResponseBuilder: (request, context) => rateLimited(request.routeOptions.url?.endsWith('/session') === true ? 'sign-ins' : 'starts', Math.ceil(context.ttl / 1000))
  })
  const limit = scope.createRateLimit({ max: maxFailures, timeWindow: RATE_WINDOW_MS })
  return {
    blocked: async (request) => {
      // A peek: checking must not count, or a signed-in user's own requests would use the budget up.
      const state = await limit(request, { increment: false })
      return !state.isAllowed && state.remaining === 0 && state.ttl > 0 ? Math.ceil(state.ttl / 1000) : undefined
    },
    failed: async (request) => { await limit(request) }
  }
}
