// An existing Fastify app (a small shop back office) that mounts jobcast under /jobs with its own authentication.
// From the repository: npm run build && node examples/embed/app.mjs   (in your project: npm install jobcast typebox)
//   curl -i -H "x-api-key: key-alice-0123456789" -H "Content-Type: application/json" \
//     -d '{"orders": 40}' http://127.0.0.1:3001/jobs/api/jobs/invoice-run
//   curl -N -H "x-api-key: key-alice-0123456789" http://127.0.0.1:3001/jobs/api/events
//   curl -X POST -H "x-api-key: key-alice-0123456789" http://127.0.0.1:3001/orders/monthly-invoices
import Fastify from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import { Type } from 'typebox'
import jobcast, { defineJob } from 'jobcast'

// The host's own users. A real app would read its session or verify its JWT here instead.
const API_KEYS = new Map([
  ['key-alice-0123456789', 'alice'],
  ['key-bob-0123456789ab', 'bob']
])

/** The host's own job type: renders one invoice per order, reporting progress as it goes. */
const invoiceRun = defineJob({
  type: 'invoice-run',
  description: 'Renders the invoices of the given number of orders.',
  input: Type.Object({ orders: Type.Integer({ minimum: 1, maximum: 10_000 }) }, { additionalProperties: false }),
  timeoutMs: 10 * 60_000,
  async run (ctx) {
    for (let i = 1; i <= ctx.input.orders; i++) {
      await sleep(25, undefined, { signal: ctx.signal })   // stands in for rendering one PDF
      ctx.progress({ current: i, total: ctx.input.orders, message: `invoice ${i} of ${ctx.input.orders}` })
    }
    return { invoices: ctx.input.orders }
  }
})

const app = Fastify({ logger: true })

// The host already has these; jobcast's own /docs and /healthz live under its prefix, so nothing collides.
app.get('/healthz', async () => ({ ok: true, app: 'back-office' }))
app.get('/docs', async () => ({ see: 'the back office handbook' }))

await app.register(jobcast, {
  prefix: '/jobs',                                     // Location, job urls and SSE links all carry /jobs
  config: { dataDir: './data-embed', concurrency: 4 }, // the rest as in .env.example
  jobTypes: [invoiceRun],
  builtIns: ['sleep', 'csv-profile'],                  // http-check only when listed
  // The user name of the request, or undefined for a 401.
  authenticate: async (request) => API_KEYS.get(String(request.headers['x-api-key'] ?? '')),
  docs: true,                                          // OpenAPI at /jobs/docs
  health: true,                                        // /jobs/healthz
  metrics: false
})

// The host's own routes reach the same jobs through app.jobcast.
app.post('/orders/monthly-invoices', async (request, reply) => {
  const user = API_KEYS.get(String(request.headers['x-api-key'] ?? ''))
  if (user === undefined) return await reply.code(401).send({ message: 'send x-api-key' })
  const job = await app.jobcast.submit(user, 'invoice-run', { orders: 40 })
  return await reply.code(202).header('location', `/jobs/api/jobs/${job.id}`).send({ jobId: job.id })
})

await app.listen({ port: Number(process.env.PORT ?? 3001), host: '127.0.0.1' })
