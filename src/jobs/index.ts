import type { Config } from '../config.ts'
import type { JobDefinition } from '../core/define-job.ts'
import { csvProfileJob } from './csv-profile.ts'
import { documentsJob } from './documents.ts'
import { httpCheckJob } from './http-check.ts'
import sleep from './sleep.ts'

/** The job types every jobcast server registers. */
export function builtInJobTypes (config: Pick<Config, 'csvMaxBytes' | 'csvCheckpointMs' | 'allowPrivateUrls' | 'httpCheckMaxUrls' | 'httpCheckMaxConcurrency' | 'httpCheckTimeLimitMs'>): JobDefinition[] {
  return [sleep as JobDefinition, httpCheckJob({ allow: config.allowPrivateUrls, maxUrls: config.httpCheckMaxUrls, maxConcurrency: config.httpCheckMaxConcurrency, timeLimitMs: config.httpCheckTimeLimitMs }), csvProfileJob({ maxBytes: config.csvMaxBytes, checkpointEveryMs: config.csvCheckpointMs }), documentsJob()]
}
