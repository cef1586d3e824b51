import type { FastifyPluginAsync } from 'fastify'
import events from './events.ts'
import jobTypes from './job-types.ts'
import jobs from './jobs.ts'
import progress from './progress.ts'
import session from './session.ts'

/** Everything under /api: the session routes, then the routes that need a signed-in user. */
const api: FastifyPluginAsync = async (fastify) => {
  await fastify.register(session)
  await fastify.register(async (signedIn) => {
    signedIn.addHook('onRequest', signedIn.authenticate)
    await signedIn.register(jobTypes)
    await signedIn.register(jobs)
    await signedIn.register(progress)
    await signedIn.register(events)
  })
}
export default api
