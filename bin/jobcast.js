#!/usr/bin/env node
// The jobcast command. An installed package runs its build (dist/cli.js); a checkout that was never built runs
// the TypeScript sources through tsx (a dev dependency), so `jobcast` works either way.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const built = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const sources = fileURLToPath(new URL('../src', import.meta.url))

if (existsSync(built)) {
  // In a checkout, a build older than the sources runs old code: say so rather than surprise.
  if (existsSync(sources) && newestChange(sources) > statSync(built).mtimeMs) {
    process.stderr.write('jobcast: src/ changed since the last build; this runs dist/ as built. Run `npm run build` (or `npm run dev` to run src/).\n')
  }
  await import(new URL('../dist/cli.js', import.meta.url).href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import(new URL('../src/cli.ts', import.meta.url).href)
}

function newestChange (dir) {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestChange(path) : statSync(path).mtimeMs)
  }
  return newest
}
