import type { LightMyRequestResponse } from 'fastify'
import { test } from 'tap'
import { Type } from 'typebox'
import { defineJob, type JobDefinition } from '../../src/core/define-job.ts'
import type { JobView } from '../../src/schemas/job.ts'
import { AUTH, build, deferred, startJob, waitForState , waitForJob as waitForProgress } from '../helper.ts'

interface Page { items: JobView[], nextCursor: string | null }

const quick = defineJob({ type: 'quick', input: Type.Object({}), async run () { return 'done' } }) as JobDefinition

test('GET /api/jobs/:id has an ETag; If-None-Match gives a bodiless 304 until the job changes', async (t) => {
  const gate = deferred()
  const gated = defineJob({ type: 'gated', input: Type.Object({}), async run () { await gate.promise; return { answer: 42 } } }) as JobDefinition
  const app = await build(t, {}, [gated])
  const job = await startJob(app, 'alice', 'gated', {})
  await waitForState(app, 'alice', job.id, 'running')
  const url = `/api/jobs/${job.id}`

  const first = await app.inject({ method: 'GET', url, headers: AUTH.alice })
  t.equal(first.statusCode, 200)
  const etag = first.headers.etag as string
  t.match(etag, /^"[^"]+"$/)
  const again = await app.inject({ method: 'GET', url, headers: AUTH.alice })
  t.equal(again.headers.etag, etag, 'unchanged job, same ETag')

  const notModified = await app.inject({ method: 'GET', url, headers: { ...AUTH.alice, 'if-none-match': etag } })
  t.equal(notModified.statusCode, 304)
  t.equal(notModified.body, '')

  gate.resolve()
  await waitForState(app, 'alice', job.id, 'completed')
  const changed = await app.inject({ method: 'GET', url, headers: { ...AUTH.alice, 'if-none-match': etag } })
  t.equal(changed.statusCode, 200, 'a changed job is sent again')
  t.not(changed.headers.etag, etag, 'with a new ETag')
  t.same(changed.json<JobView>().result, { answer: 42 })
  const bobs = await app.inject({ method: 'GET', url, headers: { ...AUTH.bob, 'if-none-match': changed.headers.etag as string } })
  t.equal(bobs.statusCode, 404, 'an ETag is no way around ownership')
})

test('GET /api/jobs pages through all my jobs newest first, without overlap', async (t) => {
  const app = await build(t, {}, [quick])
  const ids: string[] = []
  for (let i = 0; i < 7; i++) ids.push((await startJob(app, 'alice', 'quick', {})).id)
  await startJob(app, 'bob', 'quick', {})

  const seen: string[] = []
  const pageSizes: number[] = []
  let cursor: string | null = null
  for (let page = 0; page < 10; page++) {
    const res: LightMyRequestResponse = await app.inject({ method: 'GET', url: `/api/jobs?limit=3${cursor === null ? '' : `&cursor=${cursor}`}`, headers: AUTH.alice })
    t.equal(res.statusCode, 200)
    const body: Page = res.json<Page>()
    pageSizes.push(body.items.length)
    seen.push(...body.items.map((j) => j.id))
    cursor = body.nextCursor
    if (cursor === null) break
  }
  t.same(pageSizes, [3, 3, 1])
  t.same(seen, [...ids].reverse(), 'every job once, newest first')

  const all = await app.inject({ method: 'GET', url: '/api/jobs', headers: AUTH.alice })
  t.equal(all.json<Page>().items.length, 7)
  t.equal(all.json<Page>().nextCursor, null, 'one page holds them all (default limit)')
  const exact = await app.inject({ method: 'GET', url: '/api/jobs?limit=7', headers: AUTH.alice })
  t.equal(exact.json<Page>().nextCursor, null, 'no empty last page when the count is a multiple of limit')
  const bad = await app.inject({ method: 'GET', url: '/api/jobs?limit=0', headers: AUTH.alice })
  t.equal(bad.statusCode, 400)
})

test('GET /api/jobs filters by state and type', async (t) => {
  const app = await build(t, {}, [quick])
  const completedSleeps = []
  for (let i = 0; i < 3; i++) completedSleeps.push((await startJob(app, 'alice', 'sleep', { seconds: 0, steps: 1 })).id)
  const failedSleeps = []
  for (let i = 0; i < 2; i++) failedSleeps.push((await startJob(app, 'alice', 'sleep', { seconds: 0, steps: 1, failAt: 1 })).id)
  const quickOne = (await startJob(app, 'alice', 'quick', {})).id
  for (const id of [...completedSleeps, ...failedSleeps, quickOne]) await waitForState(app, 'alice', id, 'completed', 'failed')

  const ids = async (query: string): Promise<string[]> => {
    const res = await app.inject({ method: 'GET', url: `/api/jobs?${query}`, headers: AUTH.alice })
    t.equal(res.statusCode, 200, query)
    return res.json<Page>().items.map((j) => j.id)
  }
  t.same(await ids('state=failed'), [...failedSleeps].reverse())
  t.same(await ids('type=quick'), [quickOne])
  t.same(await ids('state=completed&type=sleep'), [...completedSleeps].reverse())
  t.same(await ids('state=completed'), [quickOne, ...[...completedSleeps].reverse()])
  t.same(await ids('state=running'), [])
  t.same(await ids('state=failed&limit=1').then((page) => page.length), 1)
  const bad = await app.inject({ method: 'GET', url: '/api/jobs?state=done', headers: AUTH.alice })
  t.equal(bad.statusCode, 400)
  t.match(bad.json<{ message: string }>().message, /state/)
})

test('GET /api/progress: my active and recently finished jobs', async (t) => {
  const gate = deferred()
  const gated = defineJob({ type: 'gated', input: Type.Object({}), async run (ctx) { ctx.progress({ current: 1, total: 4 }); await gate.promise; return null } }) as JobDefinition
  const app = await build(t, {}, [gated, quick])
  const active = await startJob(app, 'alice', 'gated', {})
  await waitForJob(active.id)
  const finished = await startJob(app, 'alice', 'quick', {})
  await waitForState(app, 'alice', finished.id, 'completed')
  const old = await startJob(app, 'alice', 'quick', {})
  await waitForState(app, 'alice', old.id, 'completed')
  const store = app.jobcast.service.store
  await store.update((await store.get(old.id))!, { finishedAt: Date.now() - 3_600_000 })
  await startJob(app, 'bob', 'quick', {})

  const res = await app.inject({ method: 'GET', url: '/api/progress', headers: AUTH.alice })
  t.equal(res.statusCode, 200)
  const jobs = res.json<{ jobs: JobView[] }>().jobs
  t.same(jobs.map((j) => j.id), [finished.id, active.id], 'newest first; the one finished an hour ago and bob\'s are left out')
  const running = jobs.find((j) => j.id === active.id)!
  t.equal(running.state, 'running')
  t.equal(running.progress?.percent, 25, 'with its live progress')
  gate.resolve()
  await waitForState(app, 'alice', active.id, 'completed')

  async function waitForJob (id: string): Promise<void> {
    await waitForProgress(app, 'alice', id, (job) => job.progress?.current === 1)
  }
})

test('artifacts: listed on the finished job, downloadable with Content-Disposition and Content-Length', async (t) => {
  const content = 'name,count\nwidgets,3\n'
  const writer = defineJob({
    type: 'writer',
    input: Type.Object({}),
    async run (ctx) {
      await ctx.artifact('report.csv', content, { contentType: 'text/csv' })
      await ctx.artifact('data.bin', (async function * () { yield new Uint8Array([1, 2]); yield new Uint8Array([3]) })())
      return null
    }
  }) as JobDefinition
  const app = await build(t, {}, [writer])
  const job = await startJob(app, 'alice', 'writer', {})
  await waitForState(app, 'alice', job.id, 'completed')

  const view = (await app.inject({ method: 'GET', url: `/api/jobs/${job.id}`, headers: AUTH.alice })).json<JobView>()
  t.same(view.artifacts, [
    { name: 'data.bin', size: 3, contentType: 'application/octet-stream', url: `/api/jobs/${job.id}/artifacts/data.bin` },
    { name: 'report.csv', size: Buffer.byteLength(content), contentType: 'text/csv', url: `/api/jobs/${job.id}/artifacts/report.csv` }
  ])
  const csv = await app.inject({ method: 'GET', url: `/api/jobs/${job.id}/artifacts/report.csv`, headers: AUTH.alice })
  t.equal(csv.statusCode, 200)
  t.equal(csv.body, content)
  t.match(csv.headers['content-type'], /^text\/csv/)
  t.equal(csv.headers['content-disposition'], 'attachment; filename="report.csv"')
  t.equal(Number(csv.headers['content-length']), Buffer.byteLength(content))
  const bin = await app.inject({ method: 'GET', url: `/api/jobs/${job.id}/artifacts/data.bin`, headers: AUTH.alice })
  t.same([...bin.rawPayload], [1, 2, 3])
  t.equal(bin.headers['content-length'], '3')
  const missing = await app.inject({ method: 'GET', url: `/api/jobs/${job.id}/artifacts/nope.csv`, headers: AUTH.alice })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json<{ code: string }>().code, 'ARTIFACT_NOT_FOUND')
})
