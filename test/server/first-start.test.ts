import { test } from 'tap'
import { startChildServer } from '../child-server.ts'
import { tempDataDir } from '../helper.ts'

test('a first start with no users creates "demo" and prints its token and how to use it, once', async (t) => {
  const env = { JOBCAST_DATA_DIR: tempDataDir(t), JOBCAST_TOKENS: '' }
  const first = await startChildServer(t, env)
  const token = (await first.printed(/created user "demo"[^\n]*\n\s+(\S+)/))[1]!
  await first.printed(/api\/events/)
  t.match(first.output(), `curl -N -H "Authorization: Bearer ${token}" ${first.url}/api/events`, 'prints a command that uses the token')
  const res = await fetch(`${first.url}/api/jobs`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(res.status, 200, 'the token authenticates')
  await first.kill()

  const second = await startChildServer(t, env)
  const again = await fetch(`${second.url}/api/jobs`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(again.status, 200, 'the first token still works')
  // Checked after a request was served: the token would have been printed right after listening.
  t.notMatch(second.output(), /created user "demo"/, 'the next start prints no new token')
})

test('a bad setting stops the start with a message that names it', async (t) => {
  const started = startChildServer(t, { JOBCAST_DATA_DIR: tempDataDir(t), JOBCAST_CONCURRENCY: 'lots' })
  const err = await started.then(() => undefined, (e: Error) => e)
  t.ok(err, 'the server does not start')
  t.match(err?.message, /JOBCAST_CONCURRENCY/)
})
