// The server as `npm start` runs it: the build (dist/), not the sources through tsx (whose loader thread alone is
// ~100 MiB of a server's memory). Built from a copy of the checkout, so the worktree's own dist/ is left alone.
import { execFile } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Teardown } from './helper.ts'

const run = promisify(execFile)
const ROOT = process.cwd()
// What the build reads of the checkout.
const BUILT_FROM = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs', 'src', 'bin']

/** Builds a copy of the checkout (removed on teardown); resolves with the command that starts its server: [cli.js]. */
export async function buildServer (t: Teardown): Promise<string[]> {
  const work = mkdtempSync(join(tmpdir(), 'jobcast-built-'))
  t.teardown(() => { rmSync(work, { recursive: true, force: true }) })
  for (const path of BUILT_FROM) cpSync(join(ROOT, path), join(work, path), { recursive: true })
  symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'dir')
  await run(process.execPath, ['scripts/build.mjs'], { cwd: work, timeout: 180_000 })
  return [join(work, 'dist', 'cli.js')]
}

/**
 * The environment a built server is started with beside the test's own: without the test runner's NODE_OPTIONS,
 * whose `--import` of its process tracker runs a module-loader thread in every child (~45 MiB idle, ~120 MiB at a
 * 30,000-column profile's peak) that `npm start` never has.
 */
export const AS_STARTED_ENV = { NODE_OPTIONS: '' }
