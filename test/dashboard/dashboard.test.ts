import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { AUTH, TOKENS } from '../helper.ts'
import { toCsv } from '../csv/helpers.ts'
import { CHROMIUM, launchChromium } from './browser.ts'
import { startLiveServer } from './live-server.ts'

// Screenshots go to tap's output folder (kept after the run, ignored by git), to be looked at.
const SHOTS = join(process.cwd(), '.tap', 'screenshots', 'dashboard')
const WAIT = { timeout: 15_000 }

const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}: install Debian's package (apt-get install -y chromium); .ci/run does`

test('the dashboard in Chromium: sign in by link, upload and watch, cancel, jobs from elsewhere, a broken stream', { skip }, async (t) => {
  const browser = (await launchChromium(t))!
  mkdirSync(SHOTS, { recursive: true })
  // Under a prefix, as an embedding app mounts it: the page must use relative URLs only.
  const { app, base, outage } = await startLiveServer(t, { progressIntervalMs: 50 }, '/jobs')
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
  const page = await context.newPage()
  // Console errors, with whether the stream was down when they came (a refused EventSource logs one then).
  const errors: Array<{ text: string, duringOutage: boolean }> = []
  page.on('console', (message) => { if (message.type() === 'error') errors.push({ text: `${message.text()} ${message.location().url}`, duringOutage: outage.down }) })
  page.on('pageerror', (err) => { errors.push({ text: err.message, duringOutage: false }) })
  const root = page.locator('html')

  await t.test('the first-start link signs in and the token leaves the address bar', async (t) => {
    await page.goto(`${base}?token=${TOKENS.alice}`)
    await page.locator('html[data-connection="live"]').waitFor(WAIT)
    t.equal(page.url(), base, 'no token in the URL')
    t.notMatch(await page.evaluate('location.href'), /token/, 'nor in the page\'s location')
    t.ok(await page.getByRole('button', { name: 'Sign out' }).isVisible(), 'signed in')
    const cookies = await context.cookies()
    t.ok(cookies.some((c) => c.name === 'jobcast_session' && c.httpOnly), 'an HttpOnly session cookie')
  })

  await t.test('a CSV dropped on the form: the bar reaches 100 %, the summary shows, an artifact downloads', async (t) => {
    const header = ['id', 'city', 'amount']
    const rows = Array.from({ length: 6000 }, (_, i) => [String(i), `city-${i % 37}`, (i * 1.5).toFixed(2)])
    const form = page.locator('form[data-job-type="csv-profile"]')
    await form.getByLabel('File (drop it here, or choose)').setInputFiles({ name: 'orders.csv', mimeType: 'text/csv', buffer: Buffer.from(toCsv(header, rows)) })
    await form.getByLabel('chunkRows').fill('500')
    await form.getByRole('button', { name: 'Start csv-profile' }).click()
    const status = form.getByRole('status')
    await status.filter({ hasText: /Started csv-profile/ }).waitFor(WAIT)
    const id = /csv-profile (\S+)\./.exec(await status.innerText())![1]!
    const job = page.locator(`[data-job-id="${id}"]`)
    await job.locator('[data-state="completed"]').or(page.locator(`[data-job-id="${id}"][data-state="completed"]`)).waitFor(WAIT)
    t.equal(await job.locator('progress').getAttribute('value'), '100', 'the bar is full')
    t.match(await job.locator('.percent').innerText(), /100 %/)
    t.match(await job.locator('.summary').innerText(), /rows\s+6,000/, 'the result summary shows the row count')
    await page.screenshot({ path: join(SHOTS, 'desktop-csv-done.png'), fullPage: true })
    const link = job.getByRole('link').first()
    const [download] = await Promise.all([page.waitForEvent('download', WAIT), link.click()])
    const path = join(SHOTS, download.suggestedFilename())
    await download.saveAs(path)
    t.match(download.suggestedFilename(), /\.parquet$/)
    t.equal(readFileSync(path).subarray(0, 4).toString(), 'PAR1', 'the download is a Parquet file')
    t.ok(statSync(path).size > 100)
  })

  await t.test('a sleep job started from the form, then canceled', async (t) => {
    const form = page.locator('form[data-job-type="sleep"]')
    await form.getByLabel('seconds (required)').fill('60')
    await form.getByLabel('steps').fill('60')
    await form.getByRole('button', { name: 'Start sleep' }).click()
    const status = form.getByRole('status').filter({ hasText: /Started sleep/ })
    await status.waitFor(WAIT)
    const id = /sleep (\S+)\./.exec(await status.innerText())![1]!
    const job = page.locator(`[data-job-id="${id}"]`)
    await page.locator(`[data-job-id="${id}"][data-state="running"]`).waitFor(WAIT)
    // Keyboard: the Cancel button takes focus and Enter presses it.
    const cancel = job.getByRole('button', { name: 'Cancel' })
    await cancel.focus()
    await page.keyboard.press('Enter')
    await page.locator(`[data-job-id="${id}"][data-state="canceled"]`).waitFor(WAIT)
    t.equal(await job.getByRole('button', { name: 'Cancel' }).count(), 0, 'no Cancel once canceled')
    t.equal((await app.jobcast.get('alice', id))?.state, 'canceled', 'the server canceled it')
  })

  await t.test('a job started by another client appears without a reload', async (t) => {
    const res = await fetch(`${base}api/jobs/sleep`, { method: 'POST', headers: { ...AUTH.alice, 'content-type': 'application/json' }, body: JSON.stringify({ seconds: 0.2, steps: 2 }) })
    const { id } = await res.json() as { id: string }
    await page.locator(`[data-job-id="${id}"][data-state="completed"]`).waitFor(WAIT)
    t.pass('it appeared and completed')
  })

  await t.test('a broken stream: polling meanwhile, then live again with no update missed or repeated', async (t) => {
    const steps = 40
    const res = await fetch(`${base}api/jobs/sleep`, { method: 'POST', headers: { ...AUTH.alice, 'content-type': 'application/json' }, body: JSON.stringify({ seconds: steps * 0.15, steps }) })
    const { id } = await res.json() as { id: string }
    await page.locator(`[data-job-id="${id}"] progress[value]`).waitFor(WAIT)
    // Every value the bar takes, with the connection state at the time.
    // (In-page code as text: the test's TypeScript has no DOM types.)
    await page.evaluate(`{
      const seen = window.seen = []
      const bar = document.querySelector('[data-job-id="${id}"] progress')
      const record = () => { seen.push({ value: bar.getAttribute('value'), connection: document.documentElement.dataset.connection }) }
      record()
      new MutationObserver(record).observe(bar, { attributes: true, attributeFilter: ['value'] })
    }`)
    outage.start()
    await root.and(page.locator('[data-connection="polling"]')).waitFor(WAIT)
    t.ok(await page.getByRole('status').filter({ hasText: /Connection lost/ }).isVisible(), 'the page says the stream is down')
    await outage.nextPolls(2)
    await page.screenshot({ path: join(SHOTS, 'desktop-polling.png'), fullPage: true })
    outage.end()
    await root.and(page.locator('[data-connection="live"]')).waitFor(WAIT)
    await page.locator(`[data-job-id="${id}"][data-state="completed"]`).waitFor(WAIT)

    const seen = await page.evaluate('window.seen') as Array<{ value: string, connection: string }>
    t.comment(`bar values: ${seen.map((s) => `${s.value}${s.connection === 'polling' ? 'p' : ''}`).join(' ')}`)
    const values = seen.map((s) => Number(s.value) / (100 / steps))
    t.ok(seen.some((s) => s.connection === 'polling' && s !== seen[0]), 'the bar moved while polling')
    // Polls may skip steps; the live stream, resumed from the last cursor, never skips one nor repeats one.
    for (let i = 1; i < values.length; i++) {
      if (values[i]! <= values[i - 1]!) t.fail(`the bar went from step ${values[i - 1]} to ${values[i]}`)
      if (seen[i]!.connection === 'live' && values[i] !== values[i - 1]! + 1) t.fail(`live, the bar went from step ${values[i - 1]} to ${values[i]}`)
    }
    t.ok(seen.at(-1)!.connection === 'live', 'the last steps came live')
    t.equal(values.at(-1), steps, 'up to the last step')
    const refused = outage.streamRequests.filter((r) => r.refused)
    t.ok(refused.length >= 1, 'the page kept retrying while the stream was down')
    const back = outage.streamRequests.at(-1)!
    t.notOk(back.refused)
    t.ok(outage.polls.includes(back.lastEventId!), 'it resumed from the cursor of a poll')
    t.ok(await app.jobcast.service.events.since('alice', back.lastEventId!) !== undefined, 'a cursor the server could replay from (no snapshot, no gap)')
  })

  await t.test('readable at 375 px', async (t) => {
    await page.setViewportSize({ width: 375, height: 812 })
    await page.screenshot({ path: join(SHOTS, 'phone.png'), fullPage: true })
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    t.equal(overflow, 0, 'no horizontal scrolling')
    const unlabeled = await page.evaluate(`[...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.labels.length === 0 && el.getAttribute('aria-label') === null).map((el) => el.outerHTML)`)
    t.same(unlabeled, [], 'every control has a label')
  })

  await t.test('sign out', async (t) => {
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('Token').waitFor(WAIT)
    // The browser reports the 401 on the console as an error, after the fetch has answered: wait for it, then
    // take it out of the page's errors.
    const reported = page.waitForEvent('console', { predicate: (m) => m.type() === 'error' && /401/.test(m.text()), ...WAIT })
    const res = await page.evaluate('fetch("api/progress").then((r) => r.status)')
    t.equal(res, 401, 'the session is gone')
    await reported
    const refused = errors.findIndex((e) => /401/.test(e.text) && /api\/progress/.test(e.text))
    t.not(refused, -1, 'the refused request is the one on the console')
    errors.splice(refused, 1)
  })

  t.same(errors.filter((e) => !e.duringOutage), [], 'no console errors (but the refused streams during the outage)')
  t.ok(errors.every((e) => /api\/events|EventSource/.test(e.text)), 'the errors during the outage are the refused streams')
})
