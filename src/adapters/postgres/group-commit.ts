/**
 * Group commit: items handed to `add` while a write is in flight go together in the next one, so that one statement
 * (one commit, one lock acquisition) serves many callers. One write in flight at a time; each caller gets its own
 * item's outcome. `write` resolves with one outcome per item, in order, or rejects for all of them.
 */
export class GroupCommit<I, O> {
  readonly #write: (items: I[]) => Promise<O[]>
  readonly #max: number
  #pending: Array<{ item: I, resolve: (out: O) => void, reject: (err: unknown) => void }> = []
  #writing = false

  constructor (write: (items: I[]) => Promise<O[]>, options: { max: number }) {
    this.#write = write
    this.#max = options.max
  }

  /** Writes `item` with whatever else is waiting; resolves with its outcome once committed. */
  async add (item: I): Promise<O> {
    return await new Promise((resolve, reject) => {
      this.#pending.push({ item, resolve, reject })
      this.#next()
    })
  }

  #next (): void {
    if (this.#writing || this.#pending.length === 0) return
    this.#writing = true
    const batch = this.#pending.splice(0, this.#max)
    void this.#write(batch.map((p) => p.item)).then((outs) => {
      batch.forEach((p, i) => { p.resolve(outs[i]!) })
    }, (err: unknown) => {
      for (const p of batch) p.reject(err)
    }).finally(() => {
      this.#writing = false
      this.#next()
    })
  }
}
