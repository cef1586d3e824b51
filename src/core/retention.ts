import type { Logger } from 'pino'
import type { FileStore } from '../ports/file-store.ts'
import type { JobStore } from '../ports/job-store.ts'

/**
 * Deletes what ended longer ago than the retention: jobs with their files, notify targets and deliveries; batches
 * with all their children (a batch's children stay as long as it does, so its aggregate and export stay whole).
 */
export class Retention {
  readonly #store: JobStore
  readonly #files: FileStore
  readonly #retentionMs: number
  readonly #log: Logger
  #timer: NodeJS.Timeout | undefined

  constructor (options: { store: JobStore, files: FileStore, retentionMs: number, log: Logger }) {
    this.#store = options.store
    this.#files = options.files
    this.#retentionMs = options.retentionMs
    this.#log = options.log
  }

  /** Sweeps every hour (or every retention period, if shorter). Safe to call twice. */
  start (): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => {
      this.sweep().catch((err: unknown) => { this.#log.error({ err }, 'retention sweep failed') })
    }, Math.min(this.#retentionMs, 3_600_000))
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Deletes the batches and jobs past the retention at `now`; resolves with how many jobs (children included). */
  async sweep (now = Date.now()): Promise<number> {
    const before = now - this.#retentionMs
    let deleted = 0
    for (;;) {
      const batches = await this.#store.batchesFinishedBefore(before, 20)
      if (batches.length === 0) break
      for (const batch of batches) {
        const children = await this.#store.list(batch.owner, { batchId: batch.id, limit: Math.max(1, batch.total) })
        deleted += await this.#deleteJobs(children.map((job) => job.id))
      }
      // After the children: a sweep that stops in between finds the batch again, with what is left of them.
      await this.#store.deleteBatches(batches.map((b) => b.id))
    }
    for (;;) {
      const expired = await this.#store.finishedBefore(before, 500)
      if (expired.length === 0) break
      deleted += await this.#deleteJobs(expired.map((j) => j.id))
    }
    await this.#store.deleteUnusedTargets(before)
    return deleted
  }

  // Files first: a job row is never gone while its folder stays (the orphan sweep would find it only at restart).
  async #deleteJobs (ids: string[]): Promise<number> {
    for (const id of ids) await this.#files.remove(id)
    await this.#store.delete(ids)
    return ids.length
  }
}
