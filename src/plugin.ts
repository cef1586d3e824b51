import fp from 'fastify-plugin'
import fastifyMultipart from '@fastify/multipart'
import { fastifySSE } from '@fastify/sse'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import type { Logger } from 'pino'
import { resolveConfig, type Config } from './config.ts'
import type { JobDefinition } from './core/define-job.ts'
import type { SubmitOptions } from './core/job-intake.ts'
import type { JobPage } from './core/job-queries.ts'
import { JobcastService } from './core/jobcast-service.ts'
import type { JobQuery, JobRecord } from './core/model.ts'
import { JobRegistry } from './core/registry.ts'
import { ClientError } from './errors.ts'
import { builtInJobTypes } from './jobs/index.ts'
import { readCookie, SESSION_COOKIE, tokenAuthenticate } from './plugins/auth.ts'
import { BodyGuard } from './plugins/body-guard.ts'
import { checkSameOrigin } from './plugins/csrf.ts'
import { rateLimited, registerRateLimits, type AuthFailureLimiter } from './plugins/rate-limits.ts'
import securityHeaders from './plugins/security-headers.ts'
import { sweepOrphanFolders } from './plugins/sweep-orphans.ts'
import docs from './plugins/docs.ts'
import { openAdapters, type Adapters } from './plugins/adapters.ts'
import { codeSentErrors, setErrorHandler } from './plugins/errors.ts'
import type { Authenticate } from './ports/authenticate.ts'
import type { FileStore } from './ports/file-store.ts'
import type { JobEvents } from './ports/job-events.ts'
import type { JobStore } from './ports/job-store.ts'
import type { ServiceLimiter } from './ports/service-limiter.ts'
import type { UserStore } from './ports/user-store.ts'
import dashboard from './dashboard/serve-dashboard.ts'
import api from './routes/api/index.ts'
import health from './routes/health.ts'
import metrics from './routes/metrics.ts'
import { JobViews } from './schemas/job.ts'
import { StreamHub } from './sse/stream-hub.ts'

/** Options of the jobcast plugin; every one has a default. */
export interface JobcastOptions {
  /** Settings; what is left out takes the default of .env.example (the environment is not read here). */
  config?: Partial<Config>
  /** Where the routes are mounted ('' or e.g. '/jobs'); every URL jobcast emits carries it. */
  prefix?: string
  /** Job types registered besides the built-ins. */
  jobTypes?: JobDefinition[]
  /** Built-in job types to register (default: `config.builtIns`, which is sleep and csv-profile; http-check only when listed). */
  builtIns?: readonly string[]
  /**
   * How a request becomes a user (default: jobcast's tokens and session cookie). A host's own authentication:
   * resolve with the user name, or undefined for a 401. jobcast then creates no users and serves no session routes.
   */
  authenticate?: Authenticate
  /** Serve the OpenAPI document and UI at `<prefix>/docs` (default true). */
  docs?: boolean
  /** Serve `<prefix>/healthz` (default true). */
  health?: boolean
  /** Serve Prometheus metrics at `<prefix>/metrics` (default true). */
  metrics?: boolean
  /** Serve the dashboard at `<prefix>/` (default true). */
  dashboard?: boolean
  /** Adapters to run on instead of the embedded SQLite ones; all four, or none. */
  adapters?: { store: JobStore, events: JobEvents, files: FileStore, users?: UserStore, limiter?: ServiceLimiter }
}

/** What `fastify.jobcast` is: the engine, this node's streams, and the settings in force. */
export interface JobcastHandle {
  readonly service: JobcastService
  readonly streams: StreamHub
  readonly users: UserStore | undefined
  readonly config: Config
  readonly prefix: string
  /** The token of the `demo` user created on a first start with no users; shown once by whatever starts the server. */
  readonly firstRunToken: string | undefined
  /** Starts a job for `owner`; resolves with it once it is durable (an idempotent replay resolves with the earlier job). */
  readonly submit: (owner: string, type: string, input: unknown, options?: SubmitOptions) => Promise<JobRecord>
  readonly get: JobcastService['get']
  /** The owner's jobs, newest first (default 50 a page). */
  readonly list: (owner: string, query?: Partial<JobQuery>) => Promise<JobPage>
  readonly cancel: JobcastService['cancel']
  readonly snapshot: JobcastService['snapshot']
}

declare module 'fastify' {
  interface FastifyInstance {
    /** jobcast: start, read, list and cancel jobs from the host's own routes. */
    jobcast: JobcastHandle
  }
  interface FastifyRequest {
    /** The user jobcast's routes act for (set by its authenticate hook). */
    jobcastUser: string
  }
}

/** The jobcast engine and its HTTP API as one Fastify plugin, mountable under a prefix in any Fastify 5 app. */
const jobcast: FastifyPluginAsync<JobcastOptions> = async (fastify, options) => {
  const config = resolveConfig(options.config)
  const prefix = (options.prefix ?? '').replace(/\/+$/, '')
  // Fastify's logger is pino; its type just omits a few of pino's members.
  const log = fastify.log.child({ component: 'jobcast' }) as unknown as Logger
  const adapters: Adapters = options.adapters === undefined ? await openAdapters(config, log) : { ...options.adapters, close: async () => {} }
  const users = options.authenticate === undefined ? adapters.users : undefined
  if (users === undefined && options.authenticate === undefined) throw new Error('jobcast: pass `authenticate`, or a `users` adapter for its own tokens')
  let firstRunToken: string | undefined
  try {
    if (users !== undefined) {
      // Configured tokens are the whole set for their users: a removed or rotated one stops working at this start.
      const byUser = new Map<string, string[]>()
      for (const { user, token } of config.tokens) byUser.set(user, [...byUser.get(user) ?? [], token])
      for (const [user, tokens] of byUser) await users.setTokens(user, tokens)
      if (await users.count() === 0) firstRunToken = await users.grantToken('demo')
    }
  } catch (err) {
    await adapters.close()
    throw err
  }

  const registry = new JobRegistry()
  for (const definition of [...builtInJobTypes(config, options.builtIns ?? config.builtIns), ...options.jobTypes ?? []]) registry.register(definition)
  const views = new JobViews(prefix)
  const service = new JobcastService(adapters, registry, views, {
    node: config.nodeId,
    concurrency: config.concurrency,
    userConcurrency: config.userConcurrency,
    maxQueuedPerUser: config.maxQueuedPerUser,
    retentionMs: config.retentionDays * 86_400_000,
    leaseMs: config.leaseMs,
    pollMs: config.pollMs,
    progressIntervalMs: config.progressIntervalMs,
    abortGraceMs: 5000,
    maxResultBytes: config.maxResultBytes,
    batchLimits: { maxFiles: config.batchMaxFiles, maxFileBytes: config.batchMaxFileBytes, maxBytes: config.batchMaxBytes },
    notifications: { allow: config.allowPrivateUrls, smtpUrl: config.smtpUrl, smtpFrom: config.smtpFrom }
  }, log)
  const streams = new StreamHub(adapters.events, log)
  const handle: JobcastHandle = {
    service,
    streams,
    users,
    config,
    prefix,
    firstRunToken,
    submit: async (owner, type, input, submitOptions) => (await service.submit(owner, type, input, submitOptions)).job,
    get: service.get.bind(service),
    list: async (owner, query = {}) => await service.list(owner, { limit: 50, ...query }),
    cancel: service.cancel.bind(service),
    snapshot: service.snapshot.bind(service)
  }
  fastify.decorate('jobcast', handle)

  const bodies = new BodyGuard({ maxInputBytes: config.maxInputBytes, maxJsonDepth: config.maxJsonDepth, idleMs: config.uploadIdleMs })
  let purgeTimer: NodeJS.Timeout | undefined
  fastify.addHook('onReady', async () => {
    // Only the embedded adapters are this process's alone: with shared ones, a folder may be another node's upload.
    if (options.adapters === undefined && config.databaseUrl === '') await sweepOrphanFolders(service.store, service.files, log)
    await service.start()
    if (users !== undefined) {
      purgeTimer = setInterval(() => {
        users.purgeSessions(Date.now()).catch((err: unknown) => { log.error({ err }, 'purging expired sessions failed') })
      }, config.sessionPurgeMs)
      purgeTimer.unref()
    }
  })
  // preClose: open streams would keep close() waiting forever; the work stops while the store is still open, and
  // uploads still arriving get the grace period too, then are aborted (leaving no files).
  fastify.addHook('preClose', async () => {
    clearInterval(purgeTimer)
    streams.closeAll()
    await Promise.all([service.stop(config.shutdownGraceMs), bodies.drain(config.shutdownGraceMs)])
  })
  fastify.addHook('onClose', async () => {
    await service.close()
    await adapters.close()
  })

  const authenticate = options.authenticate ?? tokenAuthenticate(users!)
  await fastify.register(async (scope) => {
    setErrorHandler(scope, config.maxInputBytes, (err) => { adapters.store.reportFault?.(err) })
    codeSentErrors(scope)
    scope.decorateRequest('jobcastUser', '')
    bodies.install(scope)
    await scope.register(securityHeaders)
    const authFailures = await registerRateLimits(scope, config.rateAuthFailures)
    // A host may have registered these itself; registering them twice would fail.
    if (!scope.hasPlugin('@fastify/sse')) await scope.register(fastifySSE, { heartbeatInterval: config.heartbeatMs })
    if (!scope.hasContentTypeParser('multipart/form-data')) await scope.register(fastifyMultipart)
    if (options.docs !== false && !scope.hasDecorator('swagger')) await scope.register(docs)
    if (options.health !== false) await scope.register(health)
    if (options.metrics !== false) await scope.register(metrics)
    // Failed sign-ins are counted only for jobcast's own tokens: a host's authentication is the host's to limit.
    const limiter = users === undefined ? undefined : authFailures
    const hook = signedIn(authenticate, limiter, users !== undefined)
    await scope.register(api, { prefix: '/api', authenticate: hook, sessions: users !== undefined, authFailures })
    if (options.dashboard !== false) await scope.register(dashboard, { authenticate: hook })
  }, { prefix })
}

// The onRequest hook of the signed-in routes: the user, or a 401 that says how to sign in. With a limiter, an
// address that sent too many wrong credentials gets 429 before its next ones are even checked.
// With jobcast's own cookie, an unsafe request it authenticated must be same-origin (CSRF).
function signedIn (authenticate: Authenticate, limiter: AuthFailureLimiter | undefined, ownCookie: boolean) {
  return async function (this: FastifyInstance, ...[request, reply]: Parameters<Authenticate>): Promise<void> {
    // A request without credentials guesses nothing: only wrong tokens and sessions count.
    const counted = limiter !== undefined && (request.headers.authorization !== undefined || readCookie(request.headers.cookie, SESSION_COOKIE) !== undefined)
    if (counted) {
      const waitS = await limiter.blocked(request)
      if (waitS !== undefined) throw rateLimited('failed sign-ins from this address', waitS)
    }
    let user: string | undefined
    try {
      user = await authenticate(request, reply)
    } catch (err) {
      if (counted && (err as { statusCode?: number }).statusCode === 401) await limiter.failed(request)
      throw err
    }
    if (reply.sent) return
    if (typeof user !== 'string' || user === '') {
      if (counted) await limiter.failed(request)
      throw new ClientError(401, 'UNAUTHORIZED', 'sign in: send "Authorization: Bearer <token>", or POST /api/session with the token to get a session cookie')
    }
    if (ownCookie) checkSameOrigin(request)
    request.jobcastUser = user
  }
}

export default fp(jobcast, { name: 'jobcast', fastify: '5.x' })
