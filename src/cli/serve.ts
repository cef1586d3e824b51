import type { Config } from '../config.ts'
import type { JobDefinition } from '../core/define-job.ts'
import { startServer } from '../server.ts'
import { loadJobTypes } from './load-job-types.ts'

/** What `jobcast serve` was asked for on its command line. */
export interface ServeOptions {
  /** Folder of job type files. */
  jobs?: string
  port?: number
  host?: string
}

/** `jobcast serve`: loads the job type files, then runs the server until SIGTERM/SIGINT. */
export async function serveCommand (options: ServeOptions, config: Config): Promise<void> {
  const jobTypes: JobDefinition[] = options.jobs === undefined ? [] : await loadJobTypes(options.jobs)
  await startServer({
    ...config,
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.host === undefined ? {} : { host: options.host })
  }, { jobTypes })
}
