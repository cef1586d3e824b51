import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { JobSchema, toJobView } from '../../schemas/job.ts'

/** How long a finished job stays in the polling and stream snapshots. */
export const RECENT_MS = 10 * 60_000

/** GET /api/progress: the polling fallback — my active and recently finished jobs. */
const progress: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/progress', {
    schema: {
      response: {
        200: Type.Object({
          cursor: Type.String({ description: 'open /api/events?lastEventId=<cursor> to continue from this snapshot without a gap' }),
          jobs: Type.Array(JobSchema)
        })
      }
    }
  }, async (request) => {
    // Read in one tick with the jobs, so that resuming the stream from it misses nothing and repeats nothing.
    const cursor = fastify.streams.cursor(request.user)
    const jobs = fastify.jobs.recent(request.user, Date.now() - RECENT_MS)
    return { cursor, jobs: jobs.map((job) => toJobView(job)) }
  })
}
export default progress
