// Protection of an external service shared by many jobs: at most N at once and R starts a second, per key.

/** A job type's share of an external service: every job of every type naming `key` counts against the same bounds. */
export interface ServiceLimits {
  /** Name of the service (e.g. 'sat-api'); types with the same key share the bounds. */
  key: string
  /** Jobs of the key running at once (default: no bound). */
  concurrency?: number
  /** Jobs of the key started per second, spaced evenly (default: no bound). */
  ratePerSecond?: number
}

interface KeyState {
  limits: ServiceLimits
  running: number
  waiting: Array<() => void>
  /** Earliest time the next start may happen (rate). */
  nextStartAt: number
}

/**
 * Process-wide limiters by key: a FIFO semaphore for `concurrency` and an evenly spaced schedule for
 * `ratePerSecond`. The first limits seen for a key are the ones in force. Across nodes each node applies its own
 * bounds (N nodes allow N × concurrency); a cluster-wide bound needs the shared store's claim bounds.
 */
export class KeyLimiters {
  readonly #keys = new Map<string, KeyState>()

  /** Waits for a slot of `limits.key` (rejecting with the signal's reason on abort); resolves with its release. */
  async acquire (limits: ServiceLimits, signal: AbortSignal): Promise<() => void> {
    let state = this.#keys.get(limits.key)
    if (state === undefined) {
      state = { limits, running: 0, waiting: [], nextStartAt: 0 }
      this.#keys.set(limits.key, state)
    }
    const max = state.limits.concurrency ?? Number.POSITIVE_INFINITY
    if (state.running >= max || state.waiting.length > 0) await this.#queue(state, signal)
    else state.running++
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      this.#release(state)
    }
    try {
      await this.#spaced(state, signal)
    } catch (err) {
      release()
      throw err
    }
    return release
  }

  /** Jobs of the key holding a slot now. */
  running (key: string): number {
    return this.#keys.get(key)?.running ?? 0
  }

  // Waits for a slot; the slot is handed over by the release, so it is counted before this resolves.
  async #queue (state: KeyState, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        state.waiting = state.waiting.filter((w) => w !== wake)
        reject(signal.reason)
      }
      const wake = (): void => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      }
      signal.addEventListener('abort', onAbort, { once: true })
      state.waiting.push(wake)
    })
  }

  #release (state: KeyState): void {
    const next = state.waiting.shift()
    if (next !== undefined) next()
    else state.running--
  }

  async #spaced (state: KeyState, signal: AbortSignal): Promise<void> {
    const rate = state.limits.ratePerSecond
    if (rate === undefined || rate <= 0) return
    const now = Date.now()
    const at = Math.max(now, state.nextStartAt)
    state.nextStartAt = at + 1000 / rate
    if (at <= now) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, at - now)
      const onAbort = (): void => { clearTimeout(timer); reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }
}
