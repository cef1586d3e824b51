// A small pool of worker threads for CSV profiling: each runs one task at a time, posts progress
// messages while it works and ends the task with a `done` or `error` message. Idle workers are
// unref'd (they never keep the process alive) and end after `idleMs`.

import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { ParquetOutput } from './parquet.ts'
import type { CsvProfile } from './profile.ts'
import type { ParquetTask } from './worker-protocol.ts'

/** A message from a worker: `done` and `error` end the task, anything else is passed on. */
export interface WorkerMessage { kind: string, [key: string]: unknown }

interface Slot { worker: Worker, busy: boolean, idleTimer?: NodeJS.Timeout }

interface Pending {
  task: unknown
  transfer: ArrayBuffer[]
  onMessage: (m: WorkerMessage) => void
  resolve: (m: WorkerMessage) => void
  reject: (err: Error) => void
}

/** Settings of a `CsvWorkerPool`. */
export interface CsvWorkerPoolOptions {
  /** Most workers alive at once. */
  size: number
  /** An idle worker ends after this many ms. Default 10,000. */
  idleMs?: number
  /**
   * Nice value of the worker threads (0–19, Linux and macOS; ignored where threads cannot have
   * their own). Above 0 the threads that serve requests win the CPU over profiling when cores
   * are short. Default 0.
   */
  nice?: number
}

/**
 * Young generation of a worker's heap, in MB (V8's default is 3 x 16 MiB semi-spaces). The profile's loop allocates
 * little, but a finished 30,000-column profile (its column objects, the Parquet writer's buffers) churns through
 * it: the server's peak RSS on that file went from ~770 to ~670 MiB, with profiling times unchanged. Only the young
 * generation: the old one, which holds the statistics, has no cap (a cap would fail big profiles).
 */
const WORKER_YOUNG_GENERATION_MB = 8

// The worker next to this file: .js in a compiled build, .ts from the sources (under tsx).
function newWorker (nice: number): Worker {
  const workerData = { nice }
  const resourceLimits = { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB }
  const js = new URL('./range-worker.js', import.meta.url)
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData, resourceLimits })
  // From the sources: Node 20 does not apply the parent's `--import tsx` hooks (nor an --import in
  // the worker's execArgv) to a worker's entry, so a bootstrap registers tsx, then loads the entry.
  const ts = new URL('./range-worker.ts', import.meta.url).href
  const api = import.meta.resolve('tsx/esm/api')
  return new Worker(`import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(ts)}) })`, { eval: true, workerData, resourceLimits })
}

/** Worker threads that run CSV profiling tasks (`range-worker.ts`). */
export class CsvWorkerPool {
  /** Most workers alive at once. */
  readonly size: number
  readonly #idleMs: number
  readonly #nice: number
  readonly #slots = new Set<Slot>()
  readonly #queue: Pending[] = []
  #closed = false

  constructor (o: CsvWorkerPoolOptions) {
    this.size = Math.max(1, Math.floor(o.size))
    this.#idleMs = o.idleMs ?? 10_000
    this.#nice = Math.max(0, Math.min(19, Math.floor(o.nice ?? 0)))
  }

  /**
   * Runs `task` on a free worker (queued until one is), moving the `transfer` buffers to it;
   * resolves with its `done` message, rejects on `error`.
   */
  async run (task: unknown, onMessage: (m: WorkerMessage) => void = () => {}, transfer: ArrayBuffer[] = []): Promise<WorkerMessage> {
    if (this.#closed) throw new Error('the CSV worker pool is closed')
    return await new Promise((resolve, reject) => {
      this.#queue.push({ task, transfer, onMessage, resolve, reject })
      this.#dispatch()
    })
  }

  /** Ends every worker; queued tasks are rejected. Safe to call twice. */
  async close (): Promise<void> {
    this.#closed = true
    for (const p of this.#queue.splice(0)) p.reject(new Error('the CSV worker pool is closed'))
    await Promise.all([...this.#slots].map(async (s) => { clearTimeout(s.idleTimer); await s.worker.terminate() }))
    this.#slots.clear()
  }

  #dispatch (): void {
    while (this.#queue.length > 0) {
      let slot = [...this.#slots].find((s) => !s.busy)
      if (slot === undefined) {
        if (this.#slots.size >= this.size) return
        slot = this.#spawn()
      }
      this.#start(slot, this.#queue.shift()!)
    }
  }

  #spawn (): Slot {
    const worker = newWorker(this.#nice)
    const slot: Slot = { worker, busy: false }
    this.#slots.add(slot)
    worker.once('exit', () => {
      clearTimeout(slot.idleTimer)
      this.#slots.delete(slot)
      if (!this.#closed) this.#dispatch()
    })
    return slot
  }

  #start (slot: Slot, p: Pending): void {
    slot.busy = true
    clearTimeout(slot.idleTimer)
    const { worker } = slot
    worker.ref()
    // `retire`: the worker asked to end (its heap holds a wide profile's garbage), so it ends now rather than idle.
    const finish = (retire = false): void => {
      worker.off('message', onMessage)
      worker.off('error', onError)
      worker.off('exit', onExit)
      slot.busy = false
      worker.unref()
      if (retire) {
        // Taken out now, so that the next task gets a new worker; the exit handler finds it gone.
        this.#slots.delete(slot)
        void worker.terminate()
      } else {
        slot.idleTimer = setTimeout(() => { void worker.terminate() }, this.#idleMs).unref()
      }
      this.#dispatch()
    }
    const onMessage = (m: WorkerMessage): void => {
      if (m.kind === 'done') { finish(m.retire === true); p.resolve(m); return }
      if (m.kind === 'error') { finish(); p.reject(toError(m)); return }
      p.onMessage(m)
    }
    // A crashed worker is gone: its task fails and a new worker takes the next one.
    const onError = (err: Error): void => { worker.off('exit', onExit); p.reject(err) }
    const onExit = (code: number): void => { worker.off('error', onError); p.reject(new Error(`CSV worker exited with code ${code}`)) }
    worker.on('message', onMessage)
    worker.once('error', onError)
    worker.once('exit', onExit)
    worker.postMessage(p.task, p.transfer)
  }
}

/** Error carried by a worker's `error` message: name, message and code kept. */
function toError (m: WorkerMessage): Error {
  const err = new Error(String(m.message)) as Error & { code?: string }
  if (typeof m.name === 'string') err.name = m.name
  if (typeof m.code === 'string') err.code = m.code
  return err
}

let sharedPool: CsvWorkerPool | undefined

/** The process-wide pool used when no `pool` is given (`os.availableParallelism()` workers). */
export function defaultCsvWorkerPool (): CsvWorkerPool {
  sharedPool ??= new CsvWorkerPool({ size: availableParallelism() })
  return sharedPool
}

/** `writeProfileParquet` on a worker of `pool`: the Parquet encoding stays off the calling thread. */
export async function writeProfileParquetOn (pool: CsvWorkerPool, outDir: string, profile: CsvProfile): Promise<ParquetOutput[]> {
  const task: ParquetTask = { kind: 'parquet', outDir, profile }
  return (await pool.run(task)).files as ParquetOutput[]
}
