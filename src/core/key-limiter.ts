// Protection of an external service shared by many jobs: at most N at once and R starts a second, per key.

import type { ServiceLimiter } from '../ports/service-limiter.ts'

/** A job type's share of an external service: every job of every type naming `key` counts against the same bounds. */
export interface ServiceLimits {
  /** Name of the service (e.g. 'sat-api'); types with the same key share the bounds. */
  key: string
  /** Jobs of the key running at once (default: no bound). */
  concurrency?: number
  /** Jobs of the key started per second, each at least 1000 / ratePerSecond ms after the one before (default: no bound). */
  ratePerSecond?: number
}

interface KeyState {
  limits: ServiceLimits
  running: number
  waiting: Array<() => void>
  /** When the last start happened (rate): the next one is at least 1000 / ratePerSecond ms after it. */
  lastStartAt: number
  /** Settles when the start before the newest waiter has happened (or given up): starts take turns. */
  turn: Promise<void>
}

/**
 * Process-wide limiters by key: a FIFO semaphore for `concurrency` and a schedule that spaces starts by
 * 1000 / `ratePerSecond` ms. The first limits seen for a key are the ones in force. Exact in one process (the
 * SQLite server); nodes that share PostgreSQL use its `PgServiceLimiter`, which gates on one of these first.
 */
export class KeyLimiters implements ServiceLimiter {
  readonly #keys = new Map<string, KeyState>()

  /** Waits for a slot of `limits.key` (rejecting with the signal's reason on abort); resolves with its release. */
  async acquire (limits: ServiceLimits, signal: AbortSignal): Promise<() => void> {
    let state = this.#keys.get(limits.key)
    if (state === undefined) {
      state = { limits, running: 0, waiting: [], lastStartAt: Number.NEGATIVE_INFINITY, turn: Promise.resolve() }
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

  // Spaces starts from the previous start as it happened, not as it was planned: a turn that wakes late (a busy
  // event loop) pushes the next one back, so no window of time ever holds more starts than the rate allows.
  async #spaced (state: KeyState, signal: AbortSignal): Promise<void> {
    const rate = state.limits.ratePerSecond
    if (rate === undefined || rate <= 0) return
    const previous = state.turn
    let pass!: () => void
    state.turn = new Promise<void>((resolve) => { pass = resolve })
    try {
      await untilSettled(previous, signal)
      // Timers may fire a millisecond before Date.now() says they are due: wait until it agrees.
      for (let wait = state.lastStartAt + 1000 / rate - Date.now(); wait > 0; wait = state.lastStartAt + 1000 / rate - Date.now()) {
        await sleep(Math.ceil(wait), signal)
      }
      state.lastStartAt = Date.now()
    } finally {
      // A turn given up passes on only once the one before it has: starts stay in order and spaced.
      void previous.then(pass)
    }
  }
}

async function untilSettled (promise: Promise<void>, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    void promise.then(() => { signal.removeEventListener('abort', onAbort); resolve() })
  })
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(timer); reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
