// The no-op job type, for `jobcast serve --jobs scripts/bench/pg-jobs` in the PostgreSQL benchmarks.
import { noopJob } from '../noop-job.ts'

export default noopJob
