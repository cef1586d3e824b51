import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'

/** The median of `xs` (NaN when empty). */
export function median (xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  if (n === 0) return NaN
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2
}

/** Nearest-rank percentile of `xs` (the same definition as the BullMQ yardsticks' `pct`). */
export function pct (xs: readonly number[] | Float64Array, p: number): number {
  const s = Float64Array.from(xs).sort()
  if (s.length === 0) return NaN
  const k = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))
  return s[k]!
}

/** `x` with thousands separators and `digits` decimals. */
export function fmt (x: number, digits = 0): string {
  if (!Number.isFinite(x)) return String(x)
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** A positive integer from the environment, or `fallback`. */
export function envInt (name: string, fallback: number): number {
  const value = Number(process.env[name])
  return Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback
}

/** A comma-separated list of positive integers from the environment, or `fallback`. */
export function envInts (name: string, fallback: number[]): number[] {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  return raw.split(',').map((s) => Number(s.trim())).filter((n) => Number.isFinite(n) && n > 0)
}

/** What a child run printed and how it ended. */
export interface ChildOutput {
  code: number | null
  stdout: string
}

/**
 * Runs a child to its end with a hard time limit (killed past it), echoing its output prefixed with `tag`,
 * and returns what it printed on stdout.
 */
export async function runChild (tag: string, command: string, args: string[], options: { cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs: number }): Promise<ChildOutput> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  const echo = (stream: NodeJS.ReadableStream, into: boolean): void => {
    createInterface({ input: stream }).on('line', (line) => {
      if (into) stdout += line + '\n'
      process.stderr.write(`[${tag}] ${line}\n`)
    })
  }
  echo(child.stdout!, true)
  echo(child.stderr!, false)
  const timer = setTimeout(() => { killChild(child) }, options.timeoutMs)
  try {
    const [code] = await once(child, 'close') as [number | null]
    return { code, stdout }
  } finally {
    clearTimeout(timer)
  }
}

/** Ends a child this script started (by its pid, never by name): SIGTERM, then SIGKILL after 5 s. */
export function killChild (child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') }, 5000)
  timer.unref()
}

/** The last line of `text` that parses as a JSON object carrying `key`. */
export function lastJson<T> (text: string, key: string): T | undefined {
  const lines = text.split('\n').reverse()
  for (const line of lines) {
    if (!line.startsWith('{')) continue
    try {
      const value = JSON.parse(line) as Record<string, unknown>
      if (key in value) return value as T
    } catch {}
  }
  return undefined
}
