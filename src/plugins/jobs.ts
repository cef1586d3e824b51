import fp from 'fastify-plugin'
import type { Logger } from 'pino'
import type { JobDefinition } from '../core/define-job.ts'
import { createEventBus, type EventBus } from '../core/event-bus.ts'
import { JobService } from '../core/job-service.ts'
import { JobRegistry } from '../core/registry.ts'
import type { Config } from '../config.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Registered job types. */
    jobTypes: JobRegistry
    /** Job and batch changes, in process. */
    bus: EventBus
    /** Starts, runs, cancels and finds jobs. */
    jobs: JobService
  }
}

/** Options of the jobs plugin. */
export interface JobsPluginOptions {
  config: Config
  jobTypes: JobDefinition[]
}

/** Registers the job types and runs the job service from ready to close. */
export default fp<JobsPluginOptions>(async (fastify, { config, jobTypes }) => {
  const registry = new JobRegistry()
  for (const definition of jobTypes) registry.register(definition)
  const bus = createEventBus()
  const service = new JobService({
    store: fastify.jobStore,
    registry,
    bus,
    // Fastify's logger is pino; its type just omits a few of pino's members.
    log: fastify.log.child({ component: 'jobs' }) as unknown as Logger,
    filesDir: fastify.filesDir,
    concurrency: config.concurrency,
    userConcurrency: config.userConcurrency,
    maxQueuedPerUser: config.maxQueuedPerUser,
    retentionMs: config.retentionDays * 86_400_000,
    progress: { emitIntervalMs: config.progressIntervalMs, writeIntervalMs: Math.max(1000, config.progressIntervalMs) },
    abortGraceMs: 5000
  })
  fastify.decorate('jobTypes', registry)
  fastify.decorate('bus', bus)
  fastify.decorate('jobs', service)
  fastify.addHook('onReady', async () => { service.start() })
  // preClose: stop the work while the store is still open (onClose hooks close it).
  fastify.addHook('preClose', async () => { await service.stop(config.shutdownGraceMs) })
}, { name: 'jobs', dependencies: ['job-store'] })
