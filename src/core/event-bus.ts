import mittModule, { type Emitter } from 'mitt'
import type { JobRecord } from '../adapters/sqlite/types.ts'

/** What happened to a job; the names are the SSE event names. */
export type JobEventKind = 'queued' | 'started' | 'progress' | 'retrying' | 'completed' | 'failed' | 'canceled'

/** A change to a job: its kind and the whole job after it. */
export interface JobEvent {
  kind: JobEventKind
  job: JobRecord
}

/** Events carried in process between the job service and the streams. */
export type BusEvents = {
  job: JobEvent
}

/** The in-process event bus (mitt). */
export type EventBus = Emitter<BusEvents>

// mitt's types describe a CommonJS default export, while Node loads its ES module: the value is the function itself.
const mitt = mittModule as unknown as typeof mittModule.default

/** A new, empty event bus. */
export function createEventBus (): EventBus {
  return mitt<BusEvents>()
}
