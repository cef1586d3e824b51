// The library face of jobcast: the plugin (default export) and what a job type file and an embedding app import.
export { default, default as jobcast, type JobcastHandle, type JobcastOptions } from './plugin.ts'
export { loadConfig, resolveConfig, type Config } from './config.ts'
export {
  defineJob,
  MiB,
  type ArtifactSource,
  type FilesSpec,
  type JobContext,
  type JobDefinition,
  type MapOptions,
  type MapOutcome,
  type MapResult,
  type ProgressUpdate,
  type RetryPolicy
} from './core/define-job.ts'
export { responseError } from './core/http-errors.ts'
export type { ServiceLimits } from './core/key-limiter.ts'
export type { JobcastService } from './core/jobcast-service.ts'
export type { JobEventKind, JobError, JobFile, JobQuery, JobRecord, JobState, Progress } from './core/model.ts'
export { AbortReason, ClientError, JobcastError, PermanentError, RetryableError } from './errors.ts'
export type { Authenticate, FileStore, JobEvent, JobEvents, JobStore, ServiceLimiter, UserStore } from './ports/index.ts'
export type { JobSummary, JobView } from './schemas/job.ts'
export { startServer, type StartServerOptions } from './server.ts'
export { createServer } from './create-server.ts'
