// Reports `count` progress updates `everyMs` apart, each carrying the time it was made (epoch ms, in `message`):
// what the cross-node SSE latency benchmark measures from.
import { setTimeout as sleep } from 'node:timers/promises'
import { Type } from 'typebox'
import { defineJob } from '../../../src/core/define-job.ts'

export default defineJob({
  type: 'tick',
  description: 'Reports progress with the time it was made (benchmarks only).',
  input: Type.Object({ count: Type.Integer({ minimum: 1 }), everyMs: Type.Integer({ minimum: 1 }) }),
  async run (ctx) {
    for (let i = 1; i <= ctx.input.count; i++) {
      await sleep(ctx.input.everyMs, undefined, { signal: ctx.signal })
      ctx.progress({ current: i, total: ctx.input.count, message: String(performance.timeOrigin + performance.now()) })
    }
    return { node: process.env.JOBCAST_NODE_ID }
  }
})
