import type { JobDefinition } from '../core/define-job.ts'
import httpCheck from './http-check.ts'
import sleep from './sleep.ts'

/** The job types every jobcast server registers. */
export const builtInJobTypes: JobDefinition[] = [sleep as JobDefinition, httpCheck as JobDefinition]
