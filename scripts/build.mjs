// `npm run build`: compiles src/ to dist/ (JavaScript, declarations, source maps) and copies the files src/ needs at
// run time that are not TypeScript (a dashboard's .html/.js/.css…). Run by `prepare`, so that an install from git
// or from a tarball has dist/.
import { spawnSync } from 'node:child_process'
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, extname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const src = join(root, 'src')
const dist = join(root, 'dist')

// A file renamed or removed in src/ must not linger in dist/.
rmSync(dist, { recursive: true, force: true })

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
if (compiled.status !== 0) process.exit(compiled.status ?? 1)

// Documentation of the sources (src/csv/README.md) stays in the repository.
const NOT_COPIED = new Set(['.ts', '.md'])

for (const file of walk(src)) {
  if (NOT_COPIED.has(extname(file))) continue
  cpSync(file, join(dist, relative(src, file)))
}

// tsc rewrites `./x.ts` to `./x.js` in the JavaScript but keeps `.ts` in the declarations. TypeScript 5 resolves
// either, but other tools reading the .d.ts (and older TypeScript) expect the specifiers of the .js files. Same
// length, so the declaration maps stay exact.
for (const file of walk(dist)) {
  if (!file.endsWith('.d.ts')) continue
  const text = readFileSync(file, 'utf8')
  const rewritten = text.replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]*?)\.ts(['"])/g, '$1$2.js$3')
  if (rewritten !== text) writeFileSync(file, rewritten)
}

// The browser gets jobcast/client as one module (the dashboard serves it): bundled here, so that an installed
// package needs no bundler at run time.
const { build } = await import('esbuild')
await build({
  entryPoints: [join(src, 'client', 'index.ts')],
  outfile: join(dist, 'dashboard', 'client.bundle.js'),
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  legalComments: 'none'
})

function * walk (dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield * walk(path)
    else yield path
  }
}
