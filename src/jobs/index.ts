import type { Config } from '../config.ts'
import type { JobDefinition } from '../core/define-job.ts'
import { csvProfileJob } from './csv-profile.ts'
import httpCheck from './http-check.ts'
import sleep from './sleep.ts'

/** The built-in job types named in `names` (sleep, csv-profile, http-check), configured from `config`. */
export function builtInJobTypes (config: Pick<Config, 'csvMaxBytes' | 'csvCheckpointMs'>, names: readonly string[]): JobDefinition[] {
  const all: Record<string, () => JobDefinition> = {
    sleep: () => sleep as JobDefinition,
    'csv-profile': () => csvProfileJob({ maxBytes: config.csvMaxBytes, checkpointEveryMs: config.csvCheckpointMs }),
    'http-check': () => httpCheck as JobDefinition
  }
  return names.map((name) => {
    const make = all[name]
    if (make === undefined) throw new Error(`there is no built-in job type "${name}"; the built-ins are ${Object.keys(all).join(', ')}`)
    return make()
  })
}
