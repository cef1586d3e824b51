import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { BatchSummarySchema } from '../../schemas/batch.ts'
import { JobSummarySchema } from '../../schemas/job.ts'

/** GET /api/progress: the polling fallback — my active and recently finished jobs, and the cursor to stream from. */
const progress: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/progress', {
    schema: {
      summary: 'My active and recently finished work (the polling fallback of /api/events)',
      response: {
        200: Type.Object({
          cursor: Type.String({ description: 'open /api/events?lastEventId=<cursor> to continue from this snapshot without a gap' }),
          jobs: Type.Array(JobSummarySchema),
          batches: Type.Array(BatchSummarySchema)
        })
      }
    }
  }, async (request) => await fastify.jobcast.snapshot(request.jobcastUser))
}
export default progress
