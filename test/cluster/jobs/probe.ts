// At most 6 probes at once in the cluster (the type's bound, below the 3 nodes' 12 slots).
import { probeJob } from './_probe.ts'

export default probeJob('probe', 6)
