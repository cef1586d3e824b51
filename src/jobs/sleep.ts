import { setTimeout as sleep } from 'node:timers/promises'
import { Type } from 'typebox'
import { defineJob } from '../core/define-job.ts'
import { PermanentError } from '../errors.ts'

/** Sleeps in steps, reporting each; fails at step `failAt` when given. A demo and a test subject. */
export default defineJob({
  type: 'sleep',
  description: 'Sleeps for `seconds` in `steps` steps, reporting progress each step; fails at step `failAt` when given.',
  input: Type.Object({
    seconds: Type.Number({ minimum: 0, maximum: 86_400, description: 'Total time to sleep.' }),
    steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: 10, description: 'Progress reports, evenly spaced.' })),
    failAt: Type.Optional(Type.Integer({ minimum: 1, description: 'Step at which the job fails.' }))
  }, { additionalProperties: false }),
  retry: { attempts: 3, backoff: 'exponential', baseMs: 1000, maxMs: 30_000 },
  async run (ctx) {
    const { seconds, failAt } = ctx.input
    const steps = ctx.input.steps ?? 10
    const stepMs = (seconds * 1000) / steps
    // A re-run after a crash resumes after the last step it finished.
    const done = typeof ctx.lastCheckpoint === 'number' ? ctx.lastCheckpoint : 0
    for (let step = done + 1; step <= steps; step++) {
      await sleep(stepMs, undefined, { signal: ctx.signal })
      if (step === failAt) throw new PermanentError('STEP_FAILED', `step ${step} of ${steps} failed, as asked by failAt`)
      // Not awaited: a step whose checkpoint is lost (the store unreachable for a moment) is slept again on a re-run.
      void ctx.checkpoint(step)
      ctx.progress({ current: step, total: steps, message: `step ${step} of ${steps}` })
    }
    return { slept: seconds, steps, resumedAt: done }
  }
})
