import { readdir } from 'node:fs/promises'
import { extname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { JobDefinition } from '../core/define-job.ts'

const JAVASCRIPT = new Set(['.js', '.mjs', '.cjs'])
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts'])

/** A job types folder that cannot be loaded: the message names the file and what is wrong with it. */
export class JobTypesError extends Error {
  readonly code = 'JOB_TYPES_INVALID'

  constructor (message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'JobTypesError'
  }
}

/** True when TypeScript files can be imported: jobcast runs from its .ts sources (tsx), or Node strips types itself. */
export function canImportTypeScript (): boolean {
  return import.meta.url.endsWith('.ts') ||
    process.execArgv.some((arg) => /\btsx\b/.test(arg)) ||
    Boolean((process.features as { typescript?: unknown }).typescript)
}

/**
 * Imports every job type file of `dir` in name order: one default-exported `defineJob(...)` per file. Files named
 * `.x`, `_x`, `*.d.ts` or `*.test.*` are skipped (helpers and tests can live beside the types).
 */
export async function loadJobTypes (dir: string, typescript = canImportTypeScript()): Promise<JobDefinition[]> {
  const folder = resolve(dir)
  let names: string[]
  try {
    names = (await readdir(folder, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name).sort()
  } catch (err) {
    throw new JobTypesError(`cannot read the job types folder ${dir}: ${(err as Error).message}`, { cause: err })
  }
  const byType = new Map<string, string>()
  const definitions: JobDefinition[] = []
  for (const name of names) {
    if (/^[._]/.test(name) || /\.d\.[cm]?ts$/.test(name) || /\.test\.[cm]?[jt]s$/.test(name)) continue
    const ext = extname(name)
    if (!JAVASCRIPT.has(ext) && !TYPESCRIPT.has(ext)) continue
    const file = join(dir, name)
    if (TYPESCRIPT.has(ext) && !typescript) {
      throw new JobTypesError(`${file} is TypeScript, which this jobcast (compiled JavaScript) cannot import: compile it to .js or .mjs, or run jobcast under tsx (node --import tsx node_modules/jobcast/bin/jobcast.js serve --jobs ${dir})`)
    }
    const definition = await importDefinition(file, join(folder, name))
    const first = byType.get(definition.type)
    if (first !== undefined) throw new JobTypesError(`${file} defines job type "${definition.type}", as ${first} does already: one type per name`)
    byType.set(definition.type, file)
    definitions.push(definition)
  }
  return definitions
}

async function importDefinition (file: string, absolute: string): Promise<JobDefinition> {
  let module: { default?: unknown }
  try {
    module = await import(pathToFileURL(absolute).href) as { default?: unknown }
  } catch (err) {
    throw new JobTypesError(`cannot load ${file}: ${(err as Error).message}`, { cause: err })
  }
  const definition = module.default as Partial<JobDefinition> | undefined
  if (typeof definition?.type !== 'string' || typeof definition.run !== 'function' || typeof definition.input !== 'object' || definition.input === null) {
    throw new JobTypesError(`${file} must default-export a job type: export default defineJob({ type, input, run })`)
  }
  return definition as JobDefinition
}
