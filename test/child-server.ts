import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import type { Teardown } from './helper.ts'

/** A jobcast server running as its own process (for kill -9 and restart tests). */
export interface ChildServer {
  url: string
  process: ChildProcess
  /** What it printed so far, stdout and stderr. */
  output: () => string
  /** Resolves with the output once it matches `pattern` (it is printing as it goes). */
  printed: (pattern: RegExp) => Promise<RegExpExecArray>
  /** Kills it with SIGKILL and waits for the exit. */
  kill: () => Promise<void>
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The `jobcast` program from its sources: what `npm start` runs (`jobcast serve`), without a build that could be stale. */
export const CLI = ['--import', 'tsx', 'src/cli.ts']

/**
 * Starts `jobcast serve` (the `npm start` entry, from src/) with `env` and `args` on a free port and resolves once it
 * logs that it listens. Killed on teardown.
 */
export async function startChildServer (t: Teardown, env: Record<string, string>, args: string[] = [], cli: string[] = CLI): Promise<ChildServer> {
  const port = await freePort()
  const child = spawn(process.execPath, [...cli, 'serve', ...args], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  t.teardown(kill)
  let output = ''
  const onOutput = new Set<() => void>()
  const collect = (chunk: string): void => {
    output += chunk
    for (const check of onOutput) check()
  }
  child.stdout!.setEncoding('utf8').on('data', collect)
  child.stderr!.setEncoding('utf8').on('data', collect)
  const printed = async (pattern: RegExp): Promise<RegExpExecArray> => await new Promise((resolve, reject) => {
    const check = (): void => {
      const match = pattern.exec(output)
      if (match === null) return
      onOutput.delete(check)
      resolve(match)
    }
    onOutput.add(check)
    child.once('exit', (code) => { onOutput.delete(check); reject(new Error(`server exited with ${code} before printing ${pattern}:\n${output}`)) })
    check()
  })
  await printed(/Server listening at/)
  return { url: `http://127.0.0.1:${port}`, process: child, output: () => output, printed, kill }
}

/** Polls `fn` (another process's state, which no in-process event announces) until it returns a value. */
export async function pollUntil<T> (fn: () => Promise<T | undefined>, what: string, timeoutMs = 30_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await fn()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}
