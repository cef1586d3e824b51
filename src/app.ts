import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from './config.ts'
import type { JobDefinition } from './core/define-job.ts'
import jobcast from './plugin.ts'
import { setNotFoundHandler } from './plugins/errors.ts'

/** Options of the standalone application. */
export interface AppOptions {
  config: Config
  /** Job types registered besides the built-in ones. */
  jobTypes?: JobDefinition[]
}

/** The standalone jobcast application: the plugin at the root, with a JSON 404. It never listens (src/server.ts does). */
const app: FastifyPluginAsync<AppOptions> = async (fastify, { config, jobTypes = [] }) => {
  await fastify.register(jobcast, { config, jobTypes })
  setNotFoundHandler(fastify)
}
export default fp(app, { name: 'jobcast-app' })
