import PQueue from 'p-queue'
import { Fifo } from '../lib/fifo.ts'

/** What the scheduler needs to know of a job to place it. */
export interface ScheduleEntry {
  id: string
  owner: string
  type: string
  /** Epoch ms before which the job must not start. */
  runAt: number
}

/** Bounds the scheduler never exceeds. */
export interface SchedulerLimits {
  /** Jobs running at once, all users and types together. */
  concurrency: number
  /** Jobs of one user running at once. */
  userConcurrency: number
  /** Jobs of one type running at once; undefined means only the other bounds apply. */
  typeConcurrency: (type: string) => number | undefined
}

interface Queued extends ScheduleEntry {
  seq: number
  removed: boolean
  delayed: boolean
}

// One user's waiting work: a FIFO per job type, so that a type at its bound does not block the user's other types.
interface Lane {
  byType: Map<string, Fifo<Queued>>
  ready: number
  queued: number
  running: number
}

/**
 * Decides which queued job runs next: round-robin between users (so one user's thousand jobs do not delay
 * another's one), FIFO within a user, under the global, per-user and per-type bounds; runs it through p-queue.
 */
export class Scheduler {
  readonly #limits: SchedulerLimits
  readonly #run: (entry: ScheduleEntry) => Promise<void>
  readonly #queue: PQueue
  readonly #lanes = new Map<string, Lane>()
  readonly #entries = new Map<string, Queued>()
  readonly #runningByType = new Map<string, number>()
  // Users with ready work, in round-robin order; #turn (modulo the ring's length) is the index of the user whose turn is next.
  #ring: string[] = []
  #turn = 0
  #delayed: Queued[] = []
  #timer: NodeJS.Timeout | undefined
  #seq = 0
  #running = 0
  #stopped = false

  constructor (limits: SchedulerLimits, run: (entry: ScheduleEntry) => Promise<void>) {
    this.#limits = limits
    this.#run = run
    this.#queue = new PQueue({ concurrency: limits.concurrency })
  }

  /** Jobs running now. */
  get running (): number {
    return this.#running
  }

  /** Jobs waiting (ready or delayed). */
  get queued (): number {
    return this.#entries.size
  }

  /** Jobs of `owner` waiting to run. */
  queuedFor (owner: string): number {
    return this.#lanes.get(owner)?.queued ?? 0
  }

  /** Whether the job is waiting here. */
  has (id: string): boolean {
    return this.#entries.has(id)
  }

  /** Adds a job; it starts as soon as its `runAt` has come and the bounds allow. */
  enqueue (entry: ScheduleEntry): void {
    if (this.#entries.has(entry.id)) return
    // Only the fields placing needs: the entry may be a whole job record.
    const queued: Queued = { id: entry.id, owner: entry.owner, type: entry.type, runAt: entry.runAt, seq: 0, removed: false, delayed: false }
    this.#entries.set(entry.id, queued)
    this.#lane(entry.owner).queued++
    if (entry.runAt > Date.now()) this.#delay(queued)
    else this.#makeReady(queued)
    this.#pump()
  }

  /** Takes a waiting job out; false when it is not waiting (already started, or unknown). */
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

  /** Stops starting jobs; running ones go on. */
  stop (): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Resolves when no job is running. */
  async idle (): Promise<void> {
    await this.#queue.onIdle()
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
    if (lane !== undefined && lane.queued === 0 && lane.running === 0) this.#lanes.delete(owner)
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
    this.#armTimer()
  }

  #armTimer (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const first = this.#delayed[0]
    if (first === undefined || this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      const now = Date.now()
      while (this.#delayed[0] !== undefined && this.#delayed[0].runAt <= now) this.#makeReady(this.#delayed.shift()!)
      this.#armTimer()
      this.#pump()
    }, Math.max(0, first.runAt - Date.now()))
  }

  #typeHasRoom (type: string): boolean {
    const limit = this.#limits.typeConcurrency(type)
    return limit === undefined || (this.#runningByType.get(type) ?? 0) < limit
  }

  // The oldest ready job of the lane whose type has room.
  #pickFrom (lane: Lane): Queued | undefined {
    let best: Fifo<Queued> | undefined
    for (const [type, fifo] of lane.byType) {
      while (fifo.peek()?.removed === true) fifo.shift()
      const head = fifo.peek()
      if (head === undefined) { lane.byType.delete(type); continue }
      if (!this.#typeHasRoom(type)) continue
      if (best === undefined || head.seq < best.peek()!.seq) best = fifo
    }
    return best?.shift()
  }

  #next (): Queued | undefined {
    for (let tried = 0; tried < this.#ring.length; tried++) {
      const index = (this.#turn + tried) % this.#ring.length
      const owner = this.#ring[index]!
      const lane = this.#lanes.get(owner)!
      if (lane.running >= this.#limits.userConcurrency) continue
      const picked = this.#pickFrom(lane)
      if (picked === undefined) continue
      lane.ready--
      lane.queued--
      this.#entries.delete(picked.id)
      // The next turn goes to the user after this one. #turn may equal the ring's length (it is used modulo the
      // length): wrapping it to 0 here would hand the next turn back to the first user instead of to a user who
      // joins the ring (at its end) before then.
      this.#turn = index + 1
      if (lane.ready === 0) this.#leaveRing(owner)
      return picked
    }
    return undefined
  }

  #pump (): void {
    while (!this.#stopped && this.#running < this.#limits.concurrency) {
      const picked = this.#next()
      if (picked === undefined) return
      this.#start(picked)
    }
  }

  #start (picked: Queued): void {
    const { id, owner, type, runAt } = picked
    const lane = this.#lanes.get(owner)!
    this.#running++
    lane.running++
    this.#runningByType.set(type, (this.#runningByType.get(type) ?? 0) + 1)
    this.#queue.add(async () => {
      try {
        await this.#run({ id, owner, type, runAt })
      } finally {
        this.#running--
        lane.running--
        this.#runningByType.set(type, this.#runningByType.get(type)! - 1)
        this.#dropLaneIfIdle(owner)
        this.#pump()
      }
    }).catch(() => {
      // #run reports its own failures; nothing reaches here but a bug, which must not become an unhandled rejection.
    })
  }
}
