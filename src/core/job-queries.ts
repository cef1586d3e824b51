import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { ClientError } from '../errors.ts'
import type { FileStore } from '../ports/file-store.ts'
import type { JobEvents } from '../ports/job-events.ts'
import type { JobStore } from '../ports/job-store.ts'
import type { BatchSummary } from '../schemas/batch.ts'
import type { JobSummary, JobView, JobViews } from '../schemas/job.ts'
import type { BatchQueries } from './batch-queries.ts'
import { InputPreviewCache } from './input-preview-cache.ts'
import { TERMINAL_STATES, type ArtifactRecord, type JobQuery, type JobRecord } from './model.ts'

/** How long a finished job stays in the polling and stream snapshots. */
export const RECENT_MS = 10 * 60_000

/** What a person has in hand: their active and recently finished work, and the cursor to resume the stream from. */
export interface Snapshot {
  cursor: string
  jobs: JobSummary[]
  batches: BatchSummary[]
}

/** A job's full view as JSON bytes, and the ETag of exactly those bytes. */
export interface ViewJson {
  json: Buffer
  etag: string
}

/** A page of jobs. */
export interface JobPage {
  items: JobSummary[]
  nextCursor: string | null
}

/** Reads jobs as their owners see them. Another user's job does not exist here (undefined, never forbidden). */
export class JobQueries {
  readonly #store: JobStore
  readonly #events: JobEvents
  readonly #files: FileStore
  readonly #views: JobViews
  readonly #batches: BatchQueries | undefined
  readonly #inputsAndPreviews = new InputPreviewCache()

  constructor (options: { store: JobStore, events: JobEvents, files: FileStore, views: JobViews, batches?: BatchQueries }) {
    this.#batches = options.batches
    this.#store = options.store
    this.#events = options.events
    this.#files = options.files
    this.#views = options.views
  }

  /** The job record, if `owner` owns it. */
  async get (owner: string, id: string): Promise<JobRecord | undefined> {
    const job = await this.#store.get(id)
    return job?.owner === owner ? job : undefined
  }

  /** The full view of the owner's job. */
  async view (owner: string, id: string): Promise<JobView | undefined> {
    const job = await this.get(owner, id)
    return job === undefined ? undefined : this.#views.full(job, await this.#artifactsOf(job))
  }

  /**
   * The full view of the owner's job as JSON, what `view` serializes to: the job is read without its input and
   * preview, which are kept as bytes once read (they never change), so polling a job with a big preview reads and
   * builds no big string.
   */
  async viewJson (owner: string, id: string): Promise<ViewJson | undefined> {
    const job = await this.#store.peek(id)
    if (job?.owner !== owner) return undefined
    const end = await this.#inputsAndPreviews.get(id, async () => await this.#store.get(id))
    if (end === undefined) return undefined
    const head = Buffer.from(JSON.stringify(this.#views.summary(job, await this.#artifactsOf(job))).slice(0, -1))
    const json = Buffer.concat([head, end])
    return { json, etag: `"${createHash('sha1').update(json).digest('base64url')}"` }
  }

  /** The full view of a job record (a start's answer). */
  async viewOf (job: JobRecord): Promise<JobView> {
    return this.#views.full(job, await this.#artifactsOf(job))
  }

  /** The owner's jobs, newest first, a page at a time. */
  async list (owner: string, query: JobQuery): Promise<JobPage> {
    const items = await this.#store.list(owner, { ...query, limit: query.limit + 1 })
    const page = items.slice(0, query.limit)
    return { items: await this.#summaries(page), nextCursor: items.length > query.limit ? page[page.length - 1]!.id : null }
  }

  /**
   * The owner's active and recently finished jobs with the cursor of that moment, for `/api/progress` and the SSE
   * snapshot alike. The cursor is read first: resuming from it may repeat a change the snapshot shows (views carry a
   * version to tell), but never misses one.
   */
  async snapshot (owner: string, limit = 500): Promise<Snapshot> {
    const cursor = await this.#events.head(owner)
    const jobs = await this.#store.recent(owner, Date.now() - RECENT_MS, limit)
    const batches = await this.#batches?.recent(owner, Date.now() - RECENT_MS) ?? []
    return { cursor, jobs: await this.#summaries(jobs), batches }
  }

  /** An artifact of the owner's job and a stream of its bytes; 404s name what is missing. */
  async artifact (owner: string, id: string, name: string): Promise<{ artifact: ArtifactRecord, stream: Readable }> {
    if (await this.get(owner, id) === undefined) throw new ClientError(404, 'JOB_NOT_FOUND', `you have no job "${id}"`)
    const artifact = (await this.#store.artifacts(id)).find((a) => a.name === name)
    if (artifact === undefined) throw new ClientError(404, 'ARTIFACT_NOT_FOUND', `job ${id} has no artifact "${name}"`)
    return { artifact, stream: await this.#files.read(id, `artifacts/${artifact.name}`) }
  }

  async #summaries (jobs: JobRecord[]): Promise<JobSummary[]> {
    return await Promise.all(jobs.map(async (job) => this.#views.summary(job, await this.#artifactsOf(job))))
  }

  async #artifactsOf (job: JobRecord): Promise<ArtifactRecord[]> {
    return TERMINAL_STATES.has(job.state) ? await this.#store.artifacts(job.id) : []
  }
}
