import { test } from 'tap'
import { startChildServer } from '../child-server.ts'
import { build, tempDataDir, TOKENS } from '../helper.ts'

test('a second server on the same data folder refuses to start, naming the folder and the holder', async (t) => {
  const dataDir = tempDataDir(t)
  await build(t, { dataDir })
  const second = build(t, { dataDir, lockWaitMs: 100 })
  await t.rejects(second, { code: 'DATA_FOLDER_IN_USE', message: new RegExp(`${dataDir.replaceAll('/', '\\/')} is in use by pid ${process.pid}`) })
})

test('a server that is SIGKILLed leaves the folder free: the next one starts at once', async (t) => {
  const env = { JOBCAST_DATA_DIR: tempDataDir(t), JOBCAST_TOKENS: `alice:${TOKENS.alice}`, JOBCAST_LOCK_WAIT_MS: '0' }
  const first = await startChildServer(t, env)
  await first.kill()
  const second = await startChildServer(t, env)
  const res = await fetch(`${second.url}/healthz`)
  t.equal(res.status, 200)
})

test('an overlapping restart waits for the folder instead of running jobs twice', async (t) => {
  const dataDir = tempDataDir(t)
  const first = await build(t, { dataDir })
  const started = Date.now()
  const second = build(t, { dataDir, lockWaitMs: 10_000 })
  setTimeout(() => { void first.close() }, 300)
  const app = await second
  t.ok(Date.now() - started >= 250, 'it waited for the first server to close')
  t.equal(app.jobcast.config.dataDir, dataDir)
})
