import { parseArgs } from 'node:util'
import { UsageError } from './usage.ts'
import type { ServeOptions } from './serve.ts'

/** A command line, understood. */
export type Command =
  | { name: 'help' }
  | { name: 'serve', options: ServeOptions }
  | { name: 'token', args: string[] }
  | { name: 'webhook-secret', args: string[] }

/** Reads `jobcast`'s arguments (without node and the script); throws a UsageError for anything it does not know. */
export function parseCommand (argv: string[]): Command {
  const [name, ...rest] = argv
  if (name === undefined) throw new UsageError('a command is needed: serve, or token create|list|revoke')
  if (name === '--help' || name === '-h' || name === 'help') return { name: 'help' }
  if (rest.includes('--help') || rest.includes('-h')) return { name: 'help' }
  if (name === 'token') {
    const flag = rest.find((arg) => arg.startsWith('-'))
    if (flag !== undefined) throw new UsageError(`unknown option ${flag} for token`)
    return { name: 'token', args: rest }
  }
  if (name === 'webhook-secret') {
    const flag = rest.find((arg) => arg.startsWith('-'))
    if (flag !== undefined) throw new UsageError(`unknown option ${flag} for webhook-secret`)
    return { name: 'webhook-secret', args: rest }
  }
  if (name === 'serve') return { name: 'serve', options: parseServe(rest) }
  throw new UsageError(`unknown command "${name}"`)
}

function parseServe (args: string[]): ServeOptions {
  let parsed
  try {
    parsed = parseArgs({
      args,
      options: { jobs: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
      strict: true,
      allowPositionals: false
    })
  } catch (err) {
    // parseArgs says e.g. "Unknown option '--job'" or "Option '--port <value>' argument missing".
    throw new UsageError(`serve: ${(err as Error).message}`)
  }
  const { jobs, port, host } = parsed.values
  const options: ServeOptions = {}
  if (jobs !== undefined) {
    if (jobs === '') throw new UsageError('serve --jobs needs a folder')
    options.jobs = jobs
  }
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new UsageError(`serve --port needs a port number from 0 to 65535, got "${port}"`)
    options.port = Number(port)
  }
  if (host !== undefined) {
    if (host === '') throw new UsageError('serve --host needs a host name or address')
    options.host = host
  }
  return options
}
