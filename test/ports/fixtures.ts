import type { JobRecord } from '../../src/core/model.ts'
import { newId } from '../../src/lib/ids.ts'
import type { ClaimBounds, JobStore } from '../../src/ports/job-store.ts'

/** A queued job of alice's, runnable now, with `overrides`. */
export function makeJob (overrides: Partial<JobRecord> = {}): JobRecord {
  const now = Date.now()
  return {
    id: newId(),
    type: 'work',
    owner: 'alice',
    state: 'queued',
    input: { n: 1 },
    progress: null,
    result: null,
    error: null,
    preview: null,
    files: [],
    checkpoint: null,
    attempt: 1,
    maxAttempts: 3,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    runAt: now,
    batchId: null,
    idempotencyKey: null,
    requestHash: null,
    lease: null,
    version: 1,
    ...overrides
  }
}

/** Bounds that never bind. */
export const UNBOUNDED: ClaimBounds = { userConcurrency: 1000, typeConcurrency: () => undefined }

/** Inserts a job (no admission limit) and resolves with it as stored; throws if it was not created. */
export async function insert (store: JobStore, overrides: Partial<JobRecord> = {}): Promise<JobRecord> {
  const outcome = await store.insertOrGet(makeJob(overrides), { maxQueued: Number.MAX_SAFE_INTEGER })
  if (outcome.status !== 'created') throw new Error(`insert: ${outcome.status}`)
  return outcome.job
}

/** Marks a job completed at `at` (compare-and-set on the version it has); throws if the write lost. */
export async function finish (store: JobStore, job: JobRecord, at = Date.now()): Promise<JobRecord> {
  const done = await store.update(job, { state: 'completed', finishedAt: at, lease: null })
  if (done === undefined) throw new Error(`finish: ${job.id} changed meanwhile`)
  return done
}

/** Rejects after `ms` unless `promise` settles first. */
export async function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`timed out after ${ms} ms waiting for ${what}`)) }, ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
