import type { FastifyPluginAsync, onRequestAsyncHookHandler } from 'fastify'
import type { AuthFailureLimiter } from '../../plugins/rate-limits.ts'
import batches from './batches.ts'
import events from './events.ts'
import jobTypes from './job-types.ts'
import jobs from './jobs.ts'
import notifications from './notifications.ts'
import progress from './progress.ts'
import session from './session.ts'
import token from './token.ts'

/** Options of the API routes. */
export interface ApiOptions {
  /** The onRequest hook that sets `request.jobcastUser` or answers 401. */
  authenticate: onRequestAsyncHookHandler
  /** Serve the session routes (jobcast's own tokens; not when the host authenticates). */
  sessions: boolean
  /** Counts wrong tokens sent to the sign-in route. */
  authFailures: AuthFailureLimiter
}

/** Everything under /api: the session routes, then the routes that need a signed-in user (token rotation among them, with jobcast's own tokens). */
const api: FastifyPluginAsync<ApiOptions> = async (fastify, { authenticate, sessions, authFailures }) => {
  if (sessions) await fastify.register(session, { authFailures })
  await fastify.register(async (signedIn) => {
    signedIn.addHook('onRequest', authenticate)
    await signedIn.register(jobTypes)
    await signedIn.register(jobs)
    await signedIn.register(batches)
    await signedIn.register(notifications)
    await signedIn.register(progress)
    await signedIn.register(events)
    if (sessions) await signedIn.register(token)
  })
}
export default api
