import type { ClaimBounds } from '../../ports/job-store.ts'

/** A queued job that a claim may take: the head of its owner's FIFO for its type, or one behind it. */
export interface Candidate {
  id: string
  owner: string
  type: string
  runAt: number
}

/** What is running now, cluster-wide, and when each owner was last served. */
export interface ClaimState {
  runningByOwner: Map<string, number>
  runningByType: Map<string, number>
  /** The turn number of each owner's last claim; an owner absent here was never served. */
  served: Map<string, number>
}

// FIFO order within an owner and type: the job that became runnable first, then the older id.
function before (a: Candidate, b: Candidate): boolean {
  return a.runAt < b.runAt || (a.runAt === b.runAt && a.id < b.id)
}

/**
 * Picks up to `max` of `candidates` in fair order: round-robin between owners, the owner served longest ago
 * first (one never served before all others), and within an owner the oldest runnable job of a type that has
 * room, so that a type at its bound does not block the owner's other types. Never exceeds `bounds` counting
 * `state`'s running jobs. `candidates` must be in FIFO order within each owner and type.
 */
export function pickFair (candidates: Candidate[], state: ClaimState, bounds: ClaimBounds, max: number): Candidate[] {
  const lanes = new Map<string, Map<string, Candidate[]>>()
  for (const candidate of candidates) {
    let lane = lanes.get(candidate.owner)
    if (lane === undefined) { lane = new Map(); lanes.set(candidate.owner, lane) }
    let fifo = lane.get(candidate.type)
    if (fifo === undefined) { fifo = []; lane.set(candidate.type, fifo) }
    fifo.push(candidate)
  }
  const oldest = new Map<string, Candidate>()
  for (const [owner, lane] of lanes) {
    for (const fifo of lane.values()) {
      const head = oldest.get(owner)
      if (head === undefined || before(fifo[0]!, head)) oldest.set(owner, fifo[0]!)
    }
  }
  let ring = [...lanes.keys()].sort((a, b) => {
    const turn = (state.served.get(a) ?? 0) - (state.served.get(b) ?? 0)
    if (turn !== 0) return turn
    return before(oldest.get(a)!, oldest.get(b)!) ? -1 : 1
  })
  const byOwner = new Map(state.runningByOwner)
  const byType = new Map(state.runningByType)
  const typeHasRoom = (type: string): boolean => {
    const limit = bounds.typeConcurrency(type)
    return limit === undefined || (byType.get(type) ?? 0) < limit
  }
  const picked: Candidate[] = []
  while (picked.length < max && ring.length > 0) {
    const next: string[] = []
    for (const owner of ring) {
      if (picked.length >= max) { next.push(owner); continue }
      if ((byOwner.get(owner) ?? 0) >= bounds.userConcurrency) continue
      let best: Candidate[] | undefined
      for (const [type, fifo] of lanes.get(owner)!) {
        if (fifo.length === 0 || !typeHasRoom(type)) continue
        if (best === undefined || before(fifo[0]!, best[0]!)) best = fifo
      }
      if (best === undefined) continue
      const job = best.shift()!
      picked.push(job)
      byOwner.set(owner, (byOwner.get(owner) ?? 0) + 1)
      byType.set(job.type, (byType.get(job.type) ?? 0) + 1)
      next.push(owner)
    }
    ring = next
    if (picked.length >= max) break
  }
  return picked
}
