// The `jobcast` program's entry (bin/jobcast.js runs it): the exit code of the command, or a running server.
import { main } from './cli/main.ts'

const code = await main(process.argv.slice(2))
if (code !== undefined) process.exitCode = code
