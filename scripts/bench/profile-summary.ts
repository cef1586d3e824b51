// Summarizes a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by file/package, top first.
//
//   node --import tsx scripts/bench/profile-summary.ts <file.cpuprofile> [top=30]
import { readFileSync } from 'node:fs'
import { fmt } from './lib.ts'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const [file, topArg] = process.argv.slice(2)
if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]')
const top = Number(topArg ?? 30)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const selfUs = new Map<number, number>()
profile.samples.forEach((id, i) => { selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)) })
const total = [...selfUs.values()].reduce((a, b) => a + b, 0)

// Where a frame lives: a package under node_modules, a project file, or a Node/V8 built-in.
function place (url: string): string {
  if (url === '') return '(native/V8)'
  const nm = url.lastIndexOf('node_modules/')
  if (nm !== -1) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  if (url.startsWith('node:')) return url
  const src = url.indexOf('/src/')
  return src !== -1 ? url.slice(src + 1) : url.replace(/^file:\/\//, '')
}

const byFunction = new Map<string, number>()
const byPlace = new Map<string, number>()
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame
  const key = `${functionName || '(anonymous)'}  ${place(url)}${url === '' ? '' : `:${lineNumber + 1}`}`
  byFunction.set(key, (byFunction.get(key) ?? 0) + us)
  byPlace.set(place(url), (byPlace.get(place(url)) ?? 0) + us)
}
const print = (title: string, map: Map<string, number>): void => {
  console.log(`\n${title}`)
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${fmt(us / 1000, 0).padStart(8)} ms ${fmt((us / total) * 100, 1).padStart(5)}%  ${key}`)
  }
}
console.log(`# ${file}: ${fmt(total / 1000)} ms sampled`)
print('self time by place', byPlace)
print('self time by function', byFunction)
