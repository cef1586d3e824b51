// Deterministic narrow numeric table in the shape of a flights table: a datetime, two integers and
// two three-letter codes per row (~35 bytes a row; 3 million rows ≈ 106 MB).
// usage: node --import tsx scripts/bench/gen-narrow-csv.ts out.csv [rows=3000000] [seed=7]

import { createWriteStream } from 'node:fs'

const [out, rowsArg, seedArg] = process.argv.slice(2)
if (out === undefined) throw new Error('usage: gen-narrow-csv.ts out.csv [rows] [seed]')
const rows = Number(rowsArg ?? 3_000_000)
let seed = Number(seedArg ?? 7) >>> 0
const rnd = (): number => {
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
// ~300 airports, skewed like real traffic.
const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
const airports = Array.from({ length: 300 }, () => Array.from({ length: 3 }, () => letters[Math.floor(rnd() * 26)]).join(''))
const airport = (): string => airports[Math.floor(airports.length * rnd() ** 2)]!
const pad = (n: number): string => String(n).padStart(2, '0')
const ws = createWriteStream(out)
ws.write('time,delay,distance,origin,dest\n')
const start = Date.UTC(2006, 0, 1)
let lines: string[] = []
for (let i = 0; i < rows; i++) {
  const d = new Date(start + Math.floor(i * 10_512 + rnd() * 600_000))
  const time = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:00`
  const delay = Math.round(-10 + (rnd() < 0.8 ? rnd() * 30 : rnd() * 300))
  const distance = 50 + Math.floor(rnd() * 2900)
  lines.push(`${time},${delay},${distance},${airport()},${airport()}`)
  if (lines.length === 10_000) {
    if (!ws.write(lines.join('\n') + '\n')) await new Promise<void>((resolve) => ws.once('drain', () => { resolve() }))
    lines = []
  }
}
if (lines.length > 0) ws.write(lines.join('\n') + '\n')
ws.end()
await new Promise<void>((resolve) => ws.once('finish', () => { resolve() }))
