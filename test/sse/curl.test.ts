import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'tap'
import type { JobView } from '../../src/schemas/job.ts'
import { build, deferred, startJob, TOKENS, waitForState } from '../helper.ts'
import { heldJob, listen } from './fixtures.ts'
import { dataOf, SseParser, type SseEvent } from './sse-client.ts'

test('curl -N prints events as they happen: started arrives while the job still runs', async (t) => {
  const release = deferred()
  const app = await build(t, {}, [heldJob(release.promise)])
  t.teardown(() => { release.resolve() })
  const base = await listen(app)

  const curl = spawn('curl', ['-sS', '-N', '-H', `Authorization: Bearer ${TOKENS.alice}`, `${base}/api/events`], { stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = once(curl, 'exit')
  t.teardown(async () => {
    if (curl.exitCode === null && curl.signalCode === null) curl.kill('SIGTERM')
    await exited
  })
  let stderr = ''
  curl.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })

  // Read curl's stdout as it comes, awaiting events by predicate.
  const events: SseEvent[] = []
  let waiting: { test: (e: SseEvent) => boolean, resolve: (e: SseEvent) => void } | undefined
  const parser = new SseParser((item) => {
    if (item.type !== 'event') return
    events.push(item.event)
    if (waiting?.test(item.event) === true) {
      waiting.resolve(item.event)
      waiting = undefined
    }
  })
  curl.stdout.setEncoding('utf8').on('data', (chunk: string) => { parser.push(chunk) })
  const next = async (test: (e: SseEvent) => boolean): Promise<SseEvent> => {
    const seen = events.find(test)
    if (seen !== undefined) return seen
    return await Promise.race([
      new Promise<SseEvent>((resolve) => { waiting = { test, resolve } }),
      exited.then(() => { throw new Error(`curl exited before the event: ${stderr}`) })
    ])
  }

  await next((e) => e.event === 'snapshot')
  const job = await startJob(app, 'alice', 'held', {})
  const started = await next((e) => e.event === 'started')
  t.equal(dataOf<JobView>(started).id, job.id)
  t.equal((await app.jobcast.get('alice', job.id))?.state, 'running', 'curl showed started while the job is still running')
  t.notOk(events.some((e) => e.event === 'completed'))

  release.resolve()
  const completed = await next((e) => e.event === 'completed')
  t.same(dataOf<JobView>(completed).result, { held: true })
  await waitForState(app, 'alice', job.id, 'completed')
  t.same(events.map((e) => e.event), ['snapshot', 'queued', 'started', 'progress', 'progress', 'completed'])
})
