import t from 'tap'
import { MemoryJobEvents } from '../../src/adapters/memory/memory-job-events.ts'
import { jobEventsContract } from '../ports/job-events.contract.ts'

// The in-process log of the embedded default: one node, bounded by its ring rather than pruned on demand.
jobEventsContract(t, async () => {
  const events = new MemoryJobEvents()
  return { events, cleanup: async () => { await events.close() } }
})
