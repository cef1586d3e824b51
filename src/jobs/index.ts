import type { Config } from '../config.ts'
import type { JobDefinition } from '../core/define-job.ts'
import { csvProfileJob } from './csv-profile.ts'
import { documentsJob } from './documents.ts'
import { httpCheckJob } from './http-check.ts'
import sleep from './sleep.ts'

/** What the built-in job types are configured from. */
export type BuiltInSettings = Pick<Config, 'csvMaxBytes' | 'csvCheckpointMs' | 'csvWorkers' | 'allowPrivateUrls' | 'httpCheckMaxUrls' | 'httpCheckMaxConcurrency' | 'httpCheckTimeLimitMs'>

/** The built-in job types named in `names` (see BUILT_INS in config.ts), configured from `config`. */
export function builtInJobTypes (config: BuiltInSettings, names: readonly string[]): JobDefinition[] {
  const all: Record<string, () => JobDefinition> = {
    sleep: () => sleep as JobDefinition,
    'csv-profile': () => csvProfileJob({ maxBytes: config.csvMaxBytes, checkpointEveryMs: config.csvCheckpointMs, workers: config.csvWorkers }),
    documents: () => documentsJob(),
    'http-check': () => httpCheckJob({ allow: config.allowPrivateUrls, maxUrls: config.httpCheckMaxUrls, maxConcurrency: config.httpCheckMaxConcurrency, timeLimitMs: config.httpCheckTimeLimitMs })
  }
  return names.map((name) => {
    const make = all[name]
    if (make === undefined) throw new Error(`there is no built-in job type "${name}"; the built-ins are ${Object.keys(all).join(', ')}`)
    return make()
  })
}
