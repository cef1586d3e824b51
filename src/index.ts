// The library face of jobcast: what a job type file and an embedding server import.
export { default as jobcast, type AppOptions } from './app.ts'
export { loadConfig, type Config } from './config.ts'
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
export type { BusEvents, EventBus, JobEvent, JobEventKind } from './core/event-bus.ts'
export { responseError } from './core/http-errors.ts'
export { AbortReason, ClientError, JobcastError, PermanentError, RetryableError } from './errors.ts'
export type { JobError, JobFile, JobRecord, JobState, Progress } from './adapters/sqlite/types.ts'
