import type { FastifyPluginAsync } from 'fastify'
import type { Config } from './config.ts'
import type { JobDefinition } from './core/define-job.ts'
import { builtInJobTypes } from './jobs/index.ts'
import auth from './plugins/auth.ts'
import docs from './plugins/docs.ts'
import errors from './plugins/errors.ts'
import jobs from './plugins/jobs.ts'
import store from './plugins/store.ts'
import streams from './plugins/streams.ts'
import dashboard from './dashboard/serve-dashboard.ts'
import api from './routes/api/index.ts'
import health from './routes/health.ts'
import metrics from './routes/metrics.ts'

/** Options of the jobcast application plugin. */
export interface AppOptions {
  config: Config
  /** Job types registered besides the built-in ones. */
  jobTypes?: JobDefinition[]
}

/** The jobcast application as a Fastify plugin: it never listens (src/server.ts does). */
const app: FastifyPluginAsync<AppOptions> = async (fastify, { config, jobTypes = [] }) => {
  await fastify.register(errors)
  await fastify.register(docs)
  await fastify.register(store, { dataDir: config.dataDir })
  await fastify.register(auth, { config })
  await fastify.register(jobs, { config, jobTypes: [...builtInJobTypes(config), ...jobTypes] })
  await fastify.register(streams, { config })
  await fastify.register(health)
  await fastify.register(metrics)
  await fastify.register(api, { prefix: '/api' })
  await fastify.register(dashboard)
}
export default app
