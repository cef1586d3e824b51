import type { FastifyInstance } from 'fastify'
import { createHook } from 'node:async_hooks'
import type { Socket } from 'node:net'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { Type } from 'typebox'
import { defineJob, type JobDefinition } from '../../src/core/define-job.ts'
import { deferred, untilAborted, type Deferred } from '../helper.ts'

/** Listens on an ephemeral loopback port; returns the base URL. */
export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return `http://127.0.0.1:${address.port}`
}

/** Steps released by the test one at a time: `wait()` in the job, `release(n)` in the test. */
export class Gate {
  #released = 0
  #waiting: Array<{ index: number, d: Deferred }> = []
  #taken = 0

  /** Resolves once the test has released one more step than this gate has let through. */
  async wait (): Promise<void> {
    const index = ++this.#taken
    if (index <= this.#released) return
    const d = deferred()
    this.#waiting.push({ index, d })
    await d.promise
  }

  /** Lets `n` more steps through. */
  release (n = 1): void {
    this.#released += n
    this.#waiting = this.#waiting.filter(({ index, d }) => {
      if (index > this.#released) return true
      d.resolve()
      return false
    })
  }
}

/** A job that reports `steps` progress events, each once the gate lets it through (progress: current = step). */
export function gatedJob (gate: Gate, type = 'gated'): JobDefinition {
  return defineJob({
    type,
    input: Type.Object({ steps: Type.Integer({ minimum: 1 }) }),
    async run (ctx) {
      for (let step = 1; step <= ctx.input.steps; step++) {
        await Promise.race([gate.wait(), untilAborted(ctx.signal)])
        ctx.progress({ current: step, total: ctx.input.steps })
      }
      return { steps: ctx.input.steps }
    }
  })
}

/** A job that waits for `release` (or its signal) after reporting one progress event. */
export function heldJob (release: Promise<void>, type = 'held'): JobDefinition {
  return defineJob({
    type,
    input: Type.Object({}),
    async run (ctx) {
      ctx.progress({ current: 1, total: 2, message: 'holding' })
      await Promise.race([release, untilAborted(ctx.signal)])
      ctx.progress({ current: 2, total: 2 })
      return { held: true }
    }
  })
}

/** A job that calls progress `calls` times as fast as it can, giving the loop a turn every 10,000 calls. */
export function floodJob (type = 'flood'): JobDefinition {
  return defineJob({
    type,
    input: Type.Object({ calls: Type.Integer({ minimum: 1 }) }),
    async run (ctx) {
      const { calls } = ctx.input
      for (let i = 1; i <= calls; i++) {
        ctx.progress({ current: i, total: calls })
        if (i % 10_000 === 0) await yieldToLoop()
      }
      return { calls }
    }
  })
}

/** The server side of every connection the app accepts from now on, to await their closing. */
export function trackServerSockets (app: FastifyInstance): { open: () => number, allClosed: () => Promise<void> } {
  const sockets = new Set<Socket>()
  const closed: Array<Promise<void>> = []
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    closed.push(new Promise((resolve) => {
      socket.once('close', () => {
        sockets.delete(socket)
        resolve()
      })
    }))
  })
  return {
    open: () => sockets.size,
    // The socket's other 'close' listeners (the response's, hence the stream's) ran before the continuation.
    allClosed: async () => { await Promise.all(closed) }
  }
}

/** The number of open connections of the server. */
export async function connections (app: FastifyInstance): Promise<number> {
  return await new Promise((resolve, reject) => {
    app.server.getConnections((err, count) => { if (err !== null) reject(err); else resolve(count) })
  })
}

/** Counts of the process's active resources by kind (Timeout, TCPSocketWrap, …). */
export function activeResources (): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1
  return counts
}

/**
 * Counts live async resources of the given types (timers unref'd or not, sockets) from now on, through
 * async_hooks: created minus destroyed. `stop()` disables the hook.
 */
export function liveResources (types: string[]): { count: (type: string) => number, stop: () => void } {
  const live = new Map<number, string>()
  const hook = createHook({
    init (asyncId, type) { if (types.includes(type)) live.set(asyncId, type) },
    destroy (asyncId) { live.delete(asyncId) }
  }).enable()
  return {
    count: (type) => { let n = 0; for (const t of live.values()) if (t === type) n++; return n },
    stop: () => { hook.disable() }
  }
}
