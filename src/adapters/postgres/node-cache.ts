import { setTimeout as sleep } from 'node:timers/promises'

/**
 * A node's copy of values any node may change (a token's user, an owner's notify defaults), read on every
 * request. An entry lives `ttlMs` from the moment its read began, so a change committed at time T is seen by
 * every node's reads from T + `ttlMs` on: a writer calls {@link settled} after its commit, and its write resolves
 * only then, as the store ports promise ("once a write resolves, every later read on any node sees it"). The
 * writing node drops its own copies at once.
 */
export class NodeCache<V> {
  readonly #entries = new Map<string, { value: V, at: number }>()
  readonly #loading = new Map<string, { generation: number, value: Promise<V> }>()
  readonly #max: number
  readonly #ttlMs: number
  #generation = 0

  constructor (options: { max: number, ttlMs: number }) {
    this.#max = options.max
    this.#ttlMs = options.ttlMs
  }

  /**
   * The cached value of `key`, else `load()`'s (kept unless `keep` says no, or this node changed values meanwhile).
   * Callers asking for a key while its load is under way share that load.
   */
  async get (key: string, load: () => Promise<V>, options: { keep?: (value: V) => boolean } = {}): Promise<V> {
    const entry = this.#entries.get(key)
    if (entry !== undefined && Date.now() - entry.at < this.#ttlMs) return entry.value
    if (entry !== undefined) this.#entries.delete(key)
    const pending = this.#loading.get(key)
    if (pending !== undefined && pending.generation === this.#generation) return await pending.value
    const generation = this.#generation
    // Aged from before the read: what it returns may be older than the moment it arrives.
    const at = Date.now()
    const value = load()
    const loading = { generation, value }
    this.#loading.set(key, loading)
    try {
      const loaded = await value
      if (generation === this.#generation && (options.keep?.(loaded) ?? true)) {
        if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!)
        this.#entries.set(key, { value: loaded, at })
      }
      return loaded
    } finally {
      if (this.#loading.get(key) === loading) this.#loading.delete(key)
    }
  }

  /** Drops this node's entries that `matches` picks (all when undefined), and keeps none of the reads under way. */
  drop (matches?: (key: string, value: V) => boolean): void {
    this.#generation++
    if (matches === undefined) {
      this.#entries.clear()
      return
    }
    for (const [key, entry] of this.#entries) if (matches(key, entry.value)) this.#entries.delete(key)
  }

  /** Resolves once every node's copies read before now have expired: await it after committing a change. */
  async settled (): Promise<void> {
    await sleep(this.#ttlMs)
  }
}
