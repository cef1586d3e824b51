import type { JobEventKind, JobRecord } from '../core/model.ts'

/** An event as it is published: what happened, to which job of whom, and its compact JSON view. */
export interface JobEventInput {
  kind: JobEventKind
  jobId: string
  owner: string
  batchId: string | null
  /** The compact view of the job after the change, as JSON text (what SSE clients receive as `data:`). */
  data: string
  /** The job after the change, for listeners on the node that made it (absent on events from other nodes). */
  job?: JobRecord
}

/**
 * A published event with the cursor the log gave it: valid for its owner's stream on every node. A cursor is
 * `<epoch>-<seq>`: within one epoch, each of an owner's events has a higher seq than the one before.
 */
export interface JobEvent extends JobEventInput {
  readonly cursor: string
}

/**
 * Whether cursor `a` comes after cursor `b` in their owner's stream. Cursors of different epochs (another log, an
 * earlier run) cannot be ordered and count as after: a reader sends such an event rather than risk a gap.
 */
export function isCursorAfter (a: string, b: string): boolean {
  const ai = a.lastIndexOf('-')
  const bi = b.lastIndexOf('-')
  if (ai < 0 || bi < 0 || a.slice(0, ai) !== b.slice(0, bi)) return true
  return Number(a.slice(ai + 1)) > Number(b.slice(bi + 1))
}

/** Stops a subscription. */
export type Unsubscribe = () => void

/**
 * Small job events: published by the lifecycle writer, heard by the streams of every node, replayable by cursor.
 * Listeners are called in publish order; a listener that throws is logged and never stops the publisher.
 */
export interface JobEvents {
  /** Publishes an event to every subscriber (on every node) and records it for replay. */
  publish (event: JobEventInput): Promise<JobEvent>
  /** Hears every event published from now on. */
  subscribe (listener: (event: JobEvent) => void): Unsubscribe
  /** The owner's events after `cursor`, oldest first; undefined when they cannot all be replayed (too old, unknown). */
  since (owner: string, cursor: string): Promise<JobEvent[] | undefined>
  /** The cursor of "now" for the owner: replay from it returns exactly the events published after this call. */
  head (owner: string): Promise<string>
  /** Asks whichever node runs the job to stop it (cancel); heard by `onCancelRequest` listeners on every node. */
  requestCancel (jobId: string): Promise<void>
  onCancelRequest (listener: (jobId: string) => void): Unsubscribe
  /** Whether this node hears every node's events now (absent: always, as in one process). */
  health?: () => { ok: boolean, error?: string }
  /** Stops delivery; safe to call twice. */
  close (): Promise<void>
}
