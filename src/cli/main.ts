import { loadConfig } from '../config.ts'
import { parseCommand } from './parse-args.ts'
import { serveCommand } from './serve.ts'
import { tokenCommand, type Output } from './token.ts'
import { USAGE, UsageError } from './usage.ts'
import { webhookSecretCommand } from './webhook-secret.ts'

/**
 * The `jobcast` program: `serve`, `token create|list|revoke`, `--help`. Resolves with the exit code, or undefined
 * for `serve`, which runs until a signal. A wrong command line is exit 2; a failure (bad setting, unreadable job
 * file, no such user) is exit 1, with one message on stderr.
 */
export async function main (argv: string[], out: Output = { stdout: process.stdout, stderr: process.stderr }): Promise<number | undefined> {
  try {
    const command = parseCommand(argv)
    if (command.name === 'help') {
      out.stdout.write(`${USAGE}\n`)
      return 0
    }
    const config = loadConfig(process.env, { envFile: '.env' })
    if (command.name === 'token') return await tokenCommand(command.args, config, out)
    if (command.name === 'webhook-secret') return await webhookSecretCommand(command.args, config, out)
    await serveCommand(command.options, config)
    return undefined
  } catch (err) {
    if (err instanceof UsageError) {
      out.stderr.write(`jobcast: ${err.message}\n\n${USAGE}\n`)
      return 2
    }
    out.stderr.write(`jobcast: ${(err as Error).message}\n`)
    return 1
  }
}
