import type { JobRecord } from './model.ts'

/** The largest input-and-preview text kept; a larger one is serialized on every read. */
const MAX_ENTRY_BYTES = 8 * 1024 * 1024

/**
 * The end of jobs' full views — `,"input":…,"preview":…}` — as JSON bytes, kept per job id within a byte budget,
 * least recently used out first. Input and preview never change once a job is inserted, so a poller's GET reads
 * neither again: a 30,000-column preview is 250 KB, and each read of it as a string and each serialization was a
 * large object that stays in V8's heap until the next full collection (~100 MiB of a polled profile's peak).
 * Bytes are a Buffer, outside the JS heap, gone with the first young collection after the answer.
 */
export class InputPreviewCache {
  readonly #entries = new Map<string, Buffer>()
  readonly #budget: number
  #bytes = 0

  constructor (budgetBytes = 32 * 1024 * 1024) {
    this.#budget = budgetBytes
  }

  /** The view's end for job `id`, from `load` (the whole record) when not kept; undefined when `load` finds none. */
  async get (id: string, load: () => Promise<JobRecord | undefined>): Promise<Buffer | undefined> {
    const kept = this.#entries.get(id)
    if (kept !== undefined) {
      // Most recently used last: a Map iterates in insertion order.
      this.#entries.delete(id)
      this.#entries.set(id, kept)
      return kept
    }
    const job = await load()
    if (job === undefined) return undefined
    const bytes = Buffer.from(`,"input":${JSON.stringify(job.input ?? null)},"preview":${JSON.stringify(job.preview ?? null)}}`)
    if (bytes.length <= Math.min(MAX_ENTRY_BYTES, this.#budget)) this.#keep(id, bytes)
    return bytes
  }

  #keep (id: string, bytes: Buffer): void {
    const before = this.#entries.get(id)
    if (before !== undefined) this.#bytes -= before.length
    this.#entries.delete(id)
    this.#entries.set(id, bytes)
    this.#bytes += bytes.length
    for (const [oldest, value] of this.#entries) {
      if (this.#bytes <= this.#budget) break
      this.#entries.delete(oldest)
      this.#bytes -= value.length
    }
  }
}
