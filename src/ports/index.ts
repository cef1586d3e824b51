// The ports: interfaces jobcast owns, each with a contract suite under test/ports/ run against every adapter.
export type { Authenticate } from './authenticate.ts'
export type { FileStore } from './file-store.ts'
export type { JobEvent, JobEventInput, JobEvents, Unsubscribe } from './job-events.ts'
export type { ClaimBounds, CommitEvent, InsertOutcome, JobStore } from './job-store.ts'
export type { UserStore, UserSummary } from './user-store.ts'
export type { BatchStore, NotificationStore } from './batch-store.ts'
export type { ServiceLimiter } from './service-limiter.ts'
