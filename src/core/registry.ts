import { Compile, type Validator } from 'typebox/compile'
import { Value } from 'typebox/value'
import type { TSchema } from 'typebox'
import { ClientError } from '../errors.ts'
import type { JobDefinition } from './define-job.ts'

interface Registered {
  definition: JobDefinition
  validator: Validator
}

const TYPE_NAME = /^[a-z][a-z0-9-]{0,62}$/

/** The job types this server runs, with their compiled input validators. */
export class JobRegistry {
  readonly #types = new Map<string, Registered>()

  /** Adds a type; its name must be new and URL-safe. */
  register (definition: JobDefinition<TSchema, unknown>): void {
    if (!TYPE_NAME.test(definition.type)) throw new Error(`job type name "${definition.type}" must match ${TYPE_NAME}`)
    if (this.#types.has(definition.type)) throw new Error(`job type "${definition.type}" is registered twice`)
    this.#types.set(definition.type, { definition: definition as JobDefinition, validator: Compile(definition.input) as Validator })
  }

  get (type: string): JobDefinition | undefined {
    return this.#types.get(type)?.definition
  }

  /** The type's definition; a 404 when there is no such type. */
  require (type: string): JobDefinition {
    return this.#registered(type).definition
  }

  #registered (type: string): Registered {
    const registered = this.#types.get(type)
    if (registered === undefined) throw new ClientError(404, 'UNKNOWN_JOB_TYPE', `there is no job type "${type}"; GET /api/job-types lists them`)
    return registered
  }

  list (): JobDefinition[] {
    return [...this.#types.values()].map((r) => r.definition)
  }

  /** The input with defaults applied; a 400 naming the first wrong field when it does not match the type's schema. */
  validate (type: string, input: unknown): unknown {
    const registered = this.#registered(type)
    const value = Value.Default(registered.definition.input, structuredClone(input ?? {}))
    if (registered.validator.Check(value)) return value
    const [first] = registered.validator.Errors(value)
    throw new ClientError(400, 'INVALID_INPUT', describeError(first))
  }
}

interface SchemaError { keyword: string, instancePath: string, message: string, params: unknown }

// "input.seconds must be number", "input.seconds is required", "input.extra is not allowed".
function describeError (error: SchemaError | undefined): string {
  if (error === undefined) return 'input is not valid'
  const field = `input${error.instancePath.replaceAll('/', '.')}`
  const params = error.params as { requiredProperties?: string[] }
  if (error.keyword === 'required' && params.requiredProperties?.[0] !== undefined) return `${field}.${params.requiredProperties[0]} is required`
  if (error.keyword === 'boolean' || error.keyword === 'additionalProperties') return `${field} is not allowed`
  return `${field} ${error.message}`
}
