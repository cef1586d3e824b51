import { Type } from 'typebox'
import { defineJob } from '../../src/core/define-job.ts'

/** A job type that does nothing: what the benchmarks start, so that only jobcast's own cost is measured. */
export const noopJob = defineJob({
  type: 'noop',
  description: 'Does nothing and completes at once (benchmarks only).',
  input: Type.Object({}),
  async run () {
    return null
  }
})
