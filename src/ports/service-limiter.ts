import type { ServiceLimits } from '../core/key-limiter.ts'

/**
 * The bounds job types put on an external service (`limits: { key, concurrency, ratePerSecond }`): a handler runs
 * only inside a slot of its key and after its turn under the key's rate. In one process the in-process
 * `KeyLimiters` are exact; nodes that share a store share a limiter in it, so that the bounds hold cluster-wide.
 */
export interface ServiceLimiter {
  /**
   * Waits for a slot of `limits.key` and the start's turn under its rate; rejects with the signal's reason on
   * abort (holding nothing then). Resolves with the release, which is safe to call twice.
   */
  acquire (limits: ServiceLimits, signal: AbortSignal): Promise<() => void>
  /** Gives back what is held and stops; safe to call twice. */
  close?: () => Promise<void>
}
