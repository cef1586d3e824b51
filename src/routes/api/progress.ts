import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { JobSchema, toJobView } from '../../schemas/job.ts'

/** How long a finished job stays in the polling snapshot. */
const RECENT_MS = 10 * 60_000

/** GET /api/progress: the polling fallback — my active and recently finished jobs. */
const progress: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/progress', {
    schema: {
      response: {
        200: Type.Object({
          cursor: Type.Union([Type.String(), Type.Null()], { description: 'open /api/events?lastEventId=<cursor> to continue from this snapshot without a gap' }),
          jobs: Type.Array(JobSchema)
        })
      }
    }
  }, async (request) => {
    const since = Date.now() - RECENT_MS
    const jobs = fastify.jobs.recent(request.user, since)
    return { cursor: null, jobs: jobs.map((job) => toJobView(job)) }
  })
}
export default progress
