import type { Config } from '../config.ts'
import type { JobDefinition } from '../core/define-job.ts'
import { csvProfileJob } from './csv-profile.ts'
import httpCheck from './http-check.ts'
import sleep from './sleep.ts'

/** The job types every jobcast server registers. */
export function builtInJobTypes (config: Pick<Config, 'csvMaxBytes' | 'csvCheckpointMs' | 'csvWorkers'>): JobDefinition[] {
  return [sleep as JobDefinition, httpCheck as JobDefinition, csvProfileJob({ maxBytes: config.csvMaxBytes, checkpointEveryMs: config.csvCheckpointMs, workers: config.csvWorkers })]
}
