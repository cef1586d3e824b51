// The dashboard: what the page weighs on the wire, how soon it is interactive on loopback, and the server CPU an open
// dashboard costs while 100 jobs run, side by side with a page that polls api/progress every 500 ms (what the
// pages this replaces did). Run by hand:
//
//   node --import tsx scripts/bench/dashboard.ts            (DASH_RUNS=10 DASH_PAGES=1,10,20 DASH_WINDOW_MS=10000)
//
// The server runs in a child process (scripts/bench/bench-server.ts), so its CPU is read from /proc alone.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { get } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { chromium, type Browser, type Page } from 'playwright-core'
import { envInt, envInts, fmt, median } from './lib.ts'

const TOKEN = 'bench-token-0001'
const RUNS = envInt('DASH_RUNS', 10)
const PAGES = envInts('DASH_PAGES', [1, 10, 20])
const WINDOW_MS = envInt('DASH_WINDOW_MS', 10_000)
const JOBS = 100
const TICKS = process.platform === 'linux' ? 100 : 100 // USER_HZ

const dir = mkdtempSync(join(tmpdir(), 'jobcast-dash-bench-'))
const server = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/bench-server.ts'], {
  env: { ...process.env, PORT: '0', HOST: '127.0.0.1', JOBCAST_DATA_DIR: dir, JOBCAST_TOKENS: `bench:${TOKEN}`, LOG_LEVEL: 'warn', JOBCAST_CONCURRENCY: '200', JOBCAST_USER_CONCURRENCY: '200' },
  stdio: ['pipe', 'pipe', 'inherit']
})
const { listening, pid } = await new Promise<{ listening: string, pid: number }>((resolve) => {
  let out = ''
  server.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString()
    const line = out.split('\n').find((l) => l.includes('listening'))
    if (line !== undefined) resolve(JSON.parse(line) as { listening: string, pid: number })
  })
})
const base = `${listening}/`
const auth = { authorization: `Bearer ${TOKEN}` }

/** CPU seconds (user + system) the server has used so far. */
const cpu = (): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS
}

/** Bytes on the wire (gzip asked for) and uncompressed, of one URL. */
const sizes = async (url: string): Promise<{ wire: number, raw: number }> => await new Promise((resolve, reject) => {
  get(url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
    let wire = 0
    res.on('data', (c: Buffer) => { wire += c.length }).on('end', () => {
      void fetch(url).then(async (r) => { resolve({ wire, raw: (await r.arrayBuffer()).byteLength }) }, reject)
    })
  }).on('error', reject)
})

const browser: Browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking'] })
try {
  // 1. Weight: the page and every module it loads.
  const html = await (await fetch(base)).text()
  const map = JSON.parse(/<script type="importmap">(.*?)<\/script>/s.exec(html)![1]!) as { imports: Record<string, string> }
  const files = ['', 'dashboard/style.css', 'dashboard/client.js', ...Object.values(map.imports)]
  for (const name of ['app.js', 'store.js', 'html.js', 'format.js', 'job-item.js', 'start-form.js', 'jobs-list.js', 'sign-in.js']) files.push(`dashboard/${name}`)
  let wire = 0
  let raw = 0
  for (const file of files) {
    const s = await sizes(new URL(file, base).href)
    wire += s.wire
    raw += s.raw
  }
  console.log(`page: ${files.length} files, ${fmt(wire / 1024, 1)} KiB gzipped on the wire (${fmt(raw / 1024, 1)} KiB uncompressed)`)

  // 2. Time to interactive: navigation start to the start forms rendered and the stream live, cold and warm cache.
  const signIn = await fetch(new URL('api/session', base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN }) })
  const session = /jobcast_session=([^;]+)/.exec(signIn.headers.get('set-cookie')!)![1]!
  const { hostname } = new URL(base)
  const newPage = async (): Promise<Page> => {
    const context = await browser.newContext()
    await context.addCookies([{ name: 'jobcast_session', value: session, domain: hostname, path: '/', httpOnly: true }])
    return await context.newPage()
  }
  const cold: number[] = []
  const warm: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const page = await newPage()
    for (const into of [cold, warm]) {
      const start = Date.now()
      await page.goto(base)
      await page.locator('html[data-connection="live"]').waitFor({ timeout: 30_000 })
      await page.getByRole('button', { name: 'Start sleep' }).waitFor({ timeout: 30_000 })
      into.push(Date.now() - start)
    }
    await page.context().close()
  }
  console.log(`time to interactive (live, forms shown), median of ${RUNS}: cold cache ${fmt(median(cold))} ms, warm cache (304s) ${fmt(median(warm))} ms`)

  // 3. Server CPU with 100 running jobs (progress reported every 100 ms, sent at most every 250 ms each), per open
  // dashboard and per 500 ms poller; the baseline is measured again just before each, as the machine is shared.
  for (let i = 0; i < JOBS; i++) {
    const res = await fetch(new URL('api/jobs/sleep', base), { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ seconds: 3600, steps: 36_000 }) })
    if (res.status !== 202) throw new Error(`start answered ${res.status}`)
  }
  await sleep(2000)
  const measure = async (): Promise<number> => {
    const before = cpu()
    await sleep(WINDOW_MS)
    return (cpu() - before) / (WINDOW_MS / 1000)
  }
  const rows: string[] = []
  for (const n of PAGES) {
    for (const kind of ['dashboard', 'poller'] as const) {
      const idle = await measure()
      const pages: Page[] = []
      for (let i = 0; i < n; i++) {
        const page = await newPage()
        if (kind === 'dashboard') {
          await page.goto(base)
          await page.locator('html[data-connection="live"]').waitFor({ timeout: 30_000 })
        } else {
          await page.goto(new URL('dashboard/session', base).href)
          await page.evaluate('setInterval(() => { fetch("../api/progress").then((r) => r.json()) }, 500)')
        }
        pages.push(page)
      }
      await sleep(1000)
      const used = await measure()
      const per = (used - idle) / n
      rows.push(`| ${n} | ${kind === 'dashboard' ? 'dashboard (SSE)' : 'poll api/progress every 500 ms'} | ${fmt(idle * 100, 1)} % | ${fmt(used * 100, 1)} % | ${fmt(per * 100, 2)} % |`)
      console.log(rows.at(-1))
      for (const page of pages) await page.context().close()
      await sleep(1000)
    }
  }
} finally {
  await browser.close()
  server.kill('SIGTERM')
  await new Promise((resolve) => server.once('exit', resolve))
  rmSync(dir, { recursive: true, force: true })
}
