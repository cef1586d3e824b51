import { Fifo } from '../lib/fifo.ts'
import type { ClaimBounds } from '../ports/job-store.ts'

/** What the fair queue knows of a waiting job: just enough to place it (never its input). */
export interface FairEntry {
  id: string
  owner: string
  type: string
  /** Epoch ms before which the job must not start. */
  runAt: number
}

interface Queued extends FairEntry {
  seq: number
  removed: boolean
  delayed: boolean
}

// One owner's waiting work: a FIFO per job type, so that a type at its bound does not block the owner's other types.
interface Lane {
  byType: Map<string, Fifo<Queued>>
  ready: number
  queued: number
  running: number
}

/**
 * The order in which queued jobs are claimed, in memory: round-robin between owners (one owner's thousand jobs
 * do not delay another's one), FIFO within an owner, under the per-owner and per-type bounds. It also counts what
 * runs, so that the bounds hold. The embedded store keeps one; a shared store orders in its queries instead.
 */
export class FairQueue {
  readonly #lanes = new Map<string, Lane>()
  readonly #entries = new Map<string, Queued>()
  readonly #runningByType = new Map<string, number>()
  // Owners with ready work, in round-robin order; #turn (modulo the ring's length) is the index of the next owner.
  #ring: string[] = []
  #turn = 0
  // Delayed entries, sorted by runAt.
  #delayed: Queued[] = []
  #seq = 0

  /** Jobs waiting (ready or delayed). */
  get size (): number {
    return this.#entries.size
  }

  /** Jobs of `owner` waiting. */
  queuedFor (owner: string): number {
    return this.#lanes.get(owner)?.queued ?? 0
  }

  /** Whether the job is waiting here. */
  has (id: string): boolean {
    return this.#entries.has(id)
  }

  /** Adds a waiting job (once). */
  add (entry: FairEntry): void {
    if (this.#entries.has(entry.id)) return
    const queued: Queued = { id: entry.id, owner: entry.owner, type: entry.type, runAt: entry.runAt, seq: 0, removed: false, delayed: false }
    this.#entries.set(entry.id, queued)
    this.#lane(entry.owner).queued++
    if (entry.runAt > Date.now()) this.#delay(queued)
    else this.#makeReady(queued)
  }

  /** Takes a waiting job out; false when it is not waiting. */
  remove (id: string): boolean {
    const queued = this.#entries.get(id)
    if (queued === undefined) return false
    this.#entries.delete(id)
    queued.removed = true
    const lane = this.#lanes.get(queued.owner)!
    lane.queued--
    if (queued.delayed) {
      this.#delayed = this.#delayed.filter((d) => d !== queued)
    } else {
      lane.ready--
      if (lane.ready === 0) this.#leaveRing(queued.owner)
    }
    this.#dropLaneIfIdle(queued.owner)
    return true
  }

  /** Counts a job as running that did not come from {@link take} (one found running at start). */
  markRunning (owner: string, type: string): void {
    this.#lane(owner).running++
    this.#runningByType.set(type, (this.#runningByType.get(type) ?? 0) + 1)
  }

  /** A job taken earlier stopped running. */
  markStopped (owner: string, type: string): void {
    const lane = this.#lanes.get(owner)
    if (lane !== undefined) lane.running = Math.max(0, lane.running - 1)
    this.#runningByType.set(type, Math.max(0, (this.#runningByType.get(type) ?? 0) - 1))
    this.#dropLaneIfIdle(owner)
  }

  /** Takes up to `max` ready jobs in fair order within `bounds`; each counts as running until {@link markStopped}. */
  take (max: number, bounds: ClaimBounds, now = Date.now()): FairEntry[] {
    this.#promoteDue(now)
    const taken: FairEntry[] = []
    while (taken.length < max) {
      const picked = this.#next(bounds)
      if (picked === undefined) break
      this.markRunning(picked.owner, picked.type)
      taken.push({ id: picked.id, owner: picked.owner, type: picked.type, runAt: picked.runAt })
    }
    return taken
  }

  /** The earliest runAt of a delayed job. */
  nextRunAt (): number | undefined {
    return this.#delayed[0]?.runAt
  }

  #promoteDue (now: number): void {
    while (this.#delayed[0] !== undefined && this.#delayed[0].runAt <= now) this.#makeReady(this.#delayed.shift()!)
  }

  #lane (owner: string): Lane {
    let lane = this.#lanes.get(owner)
    if (lane === undefined) {
      lane = { byType: new Map(), ready: 0, queued: 0, running: 0 }
      this.#lanes.set(owner, lane)
    }
    return lane
  }

  #dropLaneIfIdle (owner: string): void {
    const lane = this.#lanes.get(owner)
    if (lane !== undefined && lane.queued === 0 && lane.running === 0) {
      this.#lanes.delete(owner)
      this.#leaveRing(owner)
    }
  }

  #makeReady (queued: Queued): void {
    queued.delayed = false
    queued.seq = this.#seq++
    const lane = this.#lane(queued.owner)
    let fifo = lane.byType.get(queued.type)
    if (fifo === undefined) {
      fifo = new Fifo()
      lane.byType.set(queued.type, fifo)
    }
    fifo.push(queued)
    if (lane.ready++ === 0) this.#ring.push(queued.owner)
  }

  #leaveRing (owner: string): void {
    const index = this.#ring.indexOf(owner)
    if (index === -1) return
    this.#ring.splice(index, 1)
    if (index < this.#turn) this.#turn--
  }

  #delay (queued: Queued): void {
    queued.delayed = true
    const at = this.#delayed.findIndex((d) => d.runAt > queued.runAt)
    if (at === -1) this.#delayed.push(queued)
    else this.#delayed.splice(at, 0, queued)
  }

  #typeHasRoom (type: string, bounds: ClaimBounds): boolean {
    const limit = bounds.typeConcurrency(type)
    return limit === undefined || (this.#runningByType.get(type) ?? 0) < limit
  }

  // The oldest ready job of the lane whose type has room.
  #pickFrom (lane: Lane, bounds: ClaimBounds): Queued | undefined {
    let best: Fifo<Queued> | undefined
    for (const [type, fifo] of lane.byType) {
      while (fifo.peek()?.removed === true) fifo.shift()
      const head = fifo.peek()
      if (head === undefined) { lane.byType.delete(type); continue }
      if (!this.#typeHasRoom(type, bounds)) continue
      if (best === undefined || head.seq < best.peek()!.seq) best = fifo
    }
    return best?.shift()
  }

  #next (bounds: ClaimBounds): Queued | undefined {
    for (let tried = 0; tried < this.#ring.length; tried++) {
      const index = (this.#turn + tried) % this.#ring.length
      const owner = this.#ring[index]!
      const lane = this.#lanes.get(owner)!
      if (lane.running >= bounds.userConcurrency) continue
      const picked = this.#pickFrom(lane, bounds)
      if (picked === undefined) continue
      lane.ready--
      lane.queued--
      this.#entries.delete(picked.id)
      // The next turn goes to the owner after this one. #turn may equal the ring's length (it is used modulo the
      // length): wrapping it to 0 here would hand the next turn back to the first owner instead of to an owner who
      // joins the ring (at its end) before then.
      this.#turn = index + 1
      if (lane.ready === 0) this.#leaveRing(owner)
      return picked
    }
    return undefined
  }
}
