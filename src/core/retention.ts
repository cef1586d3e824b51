import type { Logger } from 'pino'
import type { FileStore } from '../ports/file-store.ts'
import type { JobStore } from '../ports/job-store.ts'

/** Deletes finished jobs, with their files, once they are older than the retention. */
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

  /** Deletes the finished jobs past the retention at `now`; resolves with how many. */
  async sweep (now = Date.now()): Promise<number> {
    let deleted = 0
    for (;;) {
      const expired = await this.#store.finishedBefore(now - this.#retentionMs, 500)
      if (expired.length === 0) return deleted
      for (const job of expired) await this.#files.remove(job.id)
      await this.#store.delete(expired.map((j) => j.id))
      deleted += expired.length
    }
  }
}
