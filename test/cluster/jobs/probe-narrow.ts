// At most 2 at once in the cluster: one user's backlog fills the type, so fairness decides who runs next.
import { probeJob } from './_probe.ts'

export default probeJob('probe-narrow', 2)
