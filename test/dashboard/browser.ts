import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

/** Debian's chromium, which .ci/run installs; the tests never download a browser. */
export const CHROMIUM = '/usr/bin/chromium'

/** Launches headless Chromium, closed on teardown; undefined when it is not installed. */
export async function launchChromium (t: { teardown: (fn: () => unknown) => void }): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) return undefined
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking']
  })
  t.teardown(async () => { await browser.close() })
  return browser
}
