// Test helpers: a deterministic CSV generator and a naive, obviously-correct reference profiler
// (whole file in memory, char-by-char parser, regexes, plain arrays) to compare the engine with.

/** Deterministic PRNG (mulberry32). */
export function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const CP1252_HIGH = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178
]

/** Encodes text as Windows-1252 (throws on characters it cannot hold). */
export function encode1252 (text: string): Buffer {
  const out = Buffer.alloc(text.length)
  let i = 0
  for (const ch of text) {
    const cp = ch.codePointAt(0)!
    const hi = CP1252_HIGH.indexOf(cp)
    if (hi >= 0) out[i++] = 0x80 + hi
    else if (cp < 0x100 && !(cp >= 0x80 && cp <= 0x9f)) out[i++] = cp
    else throw new Error(`not in windows-1252: ${ch}`)
  }
  return out.subarray(0, i)
}

/** Quotes a cell when RFC 4180 requires it. */
export function csvCell (v: string, delim: string): string {
  return v.includes(delim) || /["\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v
}

export interface GenOptions { rows: number, seed: number, delim?: string, eol?: string }

const WORDS = ['alpha', 'beta', 'gamma', 'café', 'naïve', 'Zürich', '北京', 'Ωmega', '👍', 'señor', 'x,y', 'say "hi"', 'two\nlines', 'crlf\r\ninside', '', ' padded ']

/** Header and rows (as strings) of a varied synthetic table. */
export function genTable (o: GenOptions): { header: string[], rows: string[][] } {
  const r = rng(o.seed)
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!
  const pad = (n: number): string => String(n).padStart(2, '0')
  const header = ['id', 'amount', 'flag', 'day', 'ts', 'city', 'mixed', 'code', 'empty', 'qty']
  const rows: string[][] = []
  for (let i = 0; i < o.rows; i++) {
    const y = 2000 + Math.floor(r() * 30)
    const m = 1 + Math.floor(r() * 12)
    const d = 1 + Math.floor(r() * 28)
    const tz = pick(['Z', '+02:00', '-05:30', '', 'Z'])
    const ts = `${y}-${pad(m)}-${pad(d)}${pick(['T', ' '])}${pad(Math.floor(r() * 24))}:${pad(Math.floor(r() * 60))}:${pad(Math.floor(r() * 60))}${r() < 0.3 ? '.' + String(Math.floor(r() * 1000)).padStart(3, '0') : ''}${tz}`
    rows.push([
      String(i - 50),
      r() < 0.1 ? '' : pick([(r() * 1000 - 200).toFixed(2), String(Math.floor(r() * 100)), (r() * 1e6).toExponential(3), '.5', '-0.25']),
      r() < 0.05 ? '' : pick(['true', 'false', 'TRUE', 'False']),
      r() < 0.05 ? '' : `${y}-${pad(m)}-${pad(d)}`,
      r() < 0.05 ? '' : ts,
      r() < 0.08 ? '' : `${pick(WORDS)}/${pick(WORDS)}`,
      pick([String(Math.floor(r() * 10)), 'n/a', '3.5', '']),
      pick(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H']) + String(Math.floor(r() * 40)),
      '',
      String(Math.floor(r() * 20) + 1)
    ])
  }
  return { header, rows }
}

/** Serialises a table as CSV text. */
export function toCsv (header: string[], rows: string[][], delim = ',', eol = '\n'): string {
  return [header, ...rows].map((row) => row.map((v) => csvCell(v, delim)).join(delim)).join(eol) + eol
}

/** Strict RFC 4180 parse of a whole decoded text (reference). */
export function parseCsv (text: string, delim: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  let i = 0
  while (i < text.length) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') { cell += '"'; i += 2; continue }
        quoted = false
        i++
        continue
      }
      cell += ch
      i++
      continue
    }
    if (ch === '"' && cell === '') { quoted = true; i++; continue }
    if (ch === delim) { row.push(cell); cell = ''; i++; continue }
    if (ch === '\r' && text[i + 1] === '\n') { i++; continue }
    if (ch === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; i++; continue }
    cell += ch
    i++
  }
  if (cell !== '' || row.length > 0) { row.push(cell); rows.push(row) }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''))
}

const INT = /^[+-]?\d{1,19}$/
const NUM = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/
const BOOL = /^(true|false)$/i
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/
const DT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(:(\d{2})(\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?$/

function validDate (y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d))
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d
}

function epoch (v: string): number {
  let s = v.replace(' ', 'T')
  if (!/(Z|[+-]\d{2}:\d{2})$/.test(s)) s += 'Z'
  s = s.replace(/\.(\d{3})\d+/, '.$1')
  return Date.parse(s)
}

/** Kind of one non-empty reference cell. */
export function refKind (v: string): string {
  if (INT.test(v) && BigInt(v) >= -(2n ** 63n) && BigInt(v) < 2n ** 63n) return 'integer'
  if (NUM.test(v)) return 'number'
  if (BOOL.test(v)) return 'boolean'
  let m = DATE.exec(v)
  if (m !== null && validDate(+m[1]!, +m[2]!, +m[3]!)) return 'date'
  m = DT.exec(v)
  if (m !== null && validDate(+m[1]!, +m[2]!, +m[3]!) && +m[4]! < 24 && +m[5]! < 60 && +(m[7] ?? 0) < 60) return 'datetime'
  return 'string'
}

/** Reference statistics of one column. */
export interface RefColumn {
  name: string
  type: string
  count: number
  nulls: number
  distinct: number
  min: string | null
  max: string | null
  mean: number | null
  stddev: number | null
  minLength: number | null
  maxLength: number | null
  topValues: Array<{ value: string, count: number }>
}

/** Reference profile of parsed rows (header first), comparing strings in `bytesOf` order. */
export function refProfile (table: string[][], bytesOf: (s: string) => Buffer = (s) => Buffer.from(s)): RefColumn[] {
  const [header, ...rows] = table
  return header!.map((name, c) => {
    const vals = rows.map((r) => r[c]!).filter((v) => v !== '')
    const kinds = new Set(vals.map(refKind))
    let type = 'string'
    if (kinds.size === 0) type = 'string'
    else if ([...kinds].every((k) => k === 'integer')) type = 'integer'
    else if ([...kinds].every((k) => k === 'integer' || k === 'number')) type = 'number'
    else if (kinds.size === 1 && kinds.has('boolean')) type = 'boolean'
    else if (kinds.size === 1 && kinds.has('date')) type = 'date'
    else if ([...kinds].every((k) => k === 'date' || k === 'datetime')) type = 'datetime'
    const counts = new Map<string, number>()
    for (const v of vals) counts.set(v, (counts.get(v) ?? 0) + 1)
    const topValues = [...counts].map(([value, count]) => ({ value, count, first: vals.indexOf(value) }))
      .sort((a, b) => (b.count - a.count) || (a.first - b.first)).slice(0, 10).map(({ value, count }) => ({ value, count }))
    let min: string | null = null
    let max: string | null = null
    let mean: number | null = null
    let stddev: number | null = null
    if (vals.length > 0) {
      if (type === 'integer' || type === 'number') {
        const xs = vals.map(Number)
        min = String(Math.min(...xs))
        max = String(Math.max(...xs))
        if (type === 'integer') {
          const big = vals.map((v) => BigInt(v))
          min = String(big.reduce((a, b) => (b < a ? b : a)))
          max = String(big.reduce((a, b) => (b > a ? b : a)))
        }
        mean = xs.reduce((a, b) => a + b, 0) / xs.length
        const mu = mean
        stddev = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mu) ** 2, 0) / (xs.length - 1)) : null
      } else if (type === 'date' || type === 'datetime') {
        let lo = vals[0]!
        let hi = vals[0]!
        for (const v of vals) {
          if (epoch(v) < epoch(lo)) lo = v
          if (epoch(v) > epoch(hi)) hi = v
        }
        min = lo
        max = hi
      } else {
        const sorted = [...counts.keys()].sort((a, b) => Buffer.compare(bytesOf(a), bytesOf(b)))
        min = sorted[0]!
        max = sorted[sorted.length - 1]!
      }
    }
    const lengths = vals.map((v) => [...v].length)
    const isString = type === 'string' && vals.length > 0
    return {
      name,
      type,
      count: vals.length,
      nulls: rows.length - vals.length,
      distinct: counts.size,
      min,
      max,
      mean,
      stddev,
      minLength: isString ? Math.min(...lengths) : null,
      maxLength: isString ? Math.max(...lengths) : null,
      topValues
    }
  })
}
