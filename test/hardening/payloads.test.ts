import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { Type } from 'typebox'
import { JsonText } from '../../src/core/bounded-result.ts'
import { defineJob, type JobDefinition } from '../../src/core/define-job.ts'
import { AUTH, build, startJob, waitForState } from '../helper.ts'
import { multipartBody } from './multipart.ts'

interface ErrorBody { statusCode: number, code: string, message: string }

const KiB = 1024
const bigResult = defineJob({
  type: 'big-result',
  input: Type.Object({ kib: Type.Integer() }),
  async run (ctx) { return { text: 'x'.repeat(ctx.input.kib * KiB) } }
}) as JobDefinition
// The same result as big-result, handed over as its JSON text.
const jsonResult = defineJob({
  type: 'json-result',
  input: Type.Object({ kib: Type.Integer() }),
  async run (ctx) {
    // In three pieces, cut inside a two-byte character: they are joined as bytes, never decoded apart.
    const text = Buffer.from(JSON.stringify({ text: 'é'.repeat(ctx.input.kib * KiB / 2) }))
    return new JsonText([text.subarray(0, 10), text.subarray(10, 1000), text.subarray(1000)])
  }
}) as JobDefinition
const badResult = defineJob({ type: 'bad-result', input: Type.Object({}), async run () { return { n: 10n } } }) as JobDefinition
const echo = defineJob({ type: 'echo', input: Type.Object({}, { additionalProperties: true }), async run (ctx) { return ctx.input } }) as JobDefinition
const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth)
const csv = 'a,b\n1,2\n'

test('a JSON body past JOBCAST_MAX_INPUT_BYTES is a 413 that names the limit; one within it is taken', async (t) => {
  const app = await build(t, { maxInputBytes: 4 * KiB }, [echo])
  const over = await app.inject({ method: 'POST', url: '/api/jobs/echo', headers: { ...AUTH.alice, 'content-type': 'application/json' }, payload: JSON.stringify({ pad: 'x'.repeat(5 * KiB) }) })
  t.equal(over.statusCode, 413)
  t.match(over.json<ErrorBody>(), { code: 'INPUT_TOO_LARGE', message: /4 KiB.*JOBCAST_MAX_INPUT_BYTES/ })
  t.equal(over.headers.connection, 'close', 'the connection is not reused after a cut-off body')
  await startJob(app, 'alice', 'echo', { pad: 'x'.repeat(3 * KiB) })
})

test('the multipart "input" field has the same size limit (413) and nesting limit (400)', async (t) => {
  const app = await build(t, { maxInputBytes: 4 * KiB, maxJsonDepth: 16 })
  const send = async (input: string): Promise<ErrorBody & { statusCode: number }> => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/jobs/csv-profile',
      headers: { ...AUTH.alice, 'content-type': 'multipart/form-data; boundary=XyZ' },
      payload: multipartBody('XyZ', [{ name: 'input', value: input }, { name: 'file', value: csv, filename: 'a.csv', type: 'text/csv' }])
    })
    return { ...res.json<ErrorBody>(), statusCode: res.statusCode }
  }
  t.match(await send(JSON.stringify({ delimiter: ',', pad: 'x'.repeat(5 * KiB) })), { statusCode: 413, code: 'INPUT_TOO_LARGE', message: /4 KiB/ })
  t.match(await send(JSON.stringify({ delimiter: ',', deep: JSON.parse(nested(20)) })), { statusCode: 400, code: 'INPUT_TOO_DEEP', message: /16 levels/ })
  t.match(await send(nested(1500)), { statusCode: 400, code: 'INPUT_TOO_DEEP' })
  t.same(existsSync(join(app.jobcast.config.dataDir, 'files')) ? (await app.jobcast.service.files.jobIds()) : [], [], 'no upload folder left behind')
})

test('JSON nested past JOBCAST_MAX_JSON_DEPTH is a 400 INPUT_TOO_DEEP, never a 500; brackets inside strings do not count', async (t) => {
  const app = await build(t, { maxJsonDepth: 64 }, [echo])
  for (const depth of [65, 5000, 100_000]) {
    const res = await app.inject({ method: 'POST', url: '/api/jobs/echo', headers: { ...AUTH.alice, 'content-type': 'application/json' }, payload: `{"deep":${nested(depth)}}` })
    t.equal(res.statusCode, 400, `depth ${depth}`)
    t.equal(res.json<ErrorBody>().code, 'INPUT_TOO_DEEP')
  }
  const job = await startJob(app, 'alice', 'echo', { text: '[[[[['.repeat(100), deep: JSON.parse(nested(60)) })
  t.ok(job.id, 'brackets in a string and 61 levels in all are fine')
  const bad = await app.inject({ method: 'POST', url: '/api/jobs/echo', headers: { ...AUTH.alice, 'content-type': 'application/json' }, payload: '{"a":' })
  t.match({ ...bad.json<ErrorBody>(), statusCode: bad.statusCode }, { statusCode: 400, code: 'INVALID_JSON' })
  const proto = await app.inject({ method: 'POST', url: '/api/jobs/echo', headers: { ...AUTH.alice, 'content-type': 'application/json' }, payload: '{"__proto__":{"x":1}}' })
  t.equal(proto.statusCode, 400, 'a __proto__ key is refused')
})

test('a result past JOBCAST_MAX_RESULT_BYTES is stored as the artifact result.json; the job carries a note', async (t) => {
  const app = await build(t, { maxResultBytes: 8 * KiB }, [bigResult, badResult])
  const small = await startJob(app, 'alice', 'big-result', { kib: 4 })
  t.equal(((await waitForState(app, 'alice', small.id, 'completed')).result as { text: string }).text.length, 4 * KiB, 'a result within the cap stays on the job')

  const big = await startJob(app, 'alice', 'big-result', { kib: 64 })
  const done = await waitForState(app, 'alice', big.id, 'completed')
  const bytes = JSON.stringify({ text: 'x'.repeat(64 * KiB) }).length
  t.same(done.result, { truncated: true, artifact: 'result.json', bytes })
  const view = await app.inject({ method: 'GET', url: `/api/jobs/${big.id}`, headers: AUTH.alice })
  t.ok(view.body.length < 8 * KiB, `the job's GET stays small (${view.body.length} bytes)`)
  t.match(view.json<{ artifacts: Array<{ name: string }> }>().artifacts, [{ name: 'result.json' }])
  const whole = await app.inject({ method: 'GET', url: `/api/jobs/${big.id}/artifacts/result.json`, headers: AUTH.alice })
  t.equal(whole.statusCode, 200)
  t.equal(whole.json<{ text: string }>().text.length, 64 * KiB, 'the artifact holds the whole result')

  const bad = await startJob(app, 'alice', 'bad-result', {})
  const failed = await waitForState(app, 'alice', bad.id, 'failed', 'completed')
  t.equal(failed.state, 'failed', 'a result that is no JSON fails the job instead of leaving it half-written')
  t.equal(failed.error?.code, 'RESULT_NOT_SERIALIZABLE')
  t.not(failed.finishedAt, null)
})

test('a result given as JSON text (JsonText) is kept parsed within the cap, else written as result.json byte for byte', async (t) => {
  const app = await build(t, { maxResultBytes: 8 * KiB }, [jsonResult])
  const small = await startJob(app, 'alice', 'json-result', { kib: 4 })
  t.same((await waitForState(app, 'alice', small.id, 'completed')).result, { text: 'é'.repeat(2 * KiB) }, 'within the cap: the parsed value')

  const big = await startJob(app, 'alice', 'json-result', { kib: 64 })
  const done = await waitForState(app, 'alice', big.id, 'completed')
  const text = JSON.stringify({ text: 'é'.repeat(32 * KiB) })
  t.same(done.result, { truncated: true, artifact: 'result.json', bytes: Buffer.byteLength(text) }, 'the size is in bytes (UTF-8)')
  const whole = await app.inject({ method: 'GET', url: `/api/jobs/${big.id}/artifacts/result.json`, headers: AUTH.alice })
  t.equal(whole.statusCode, 200)
  t.equal(whole.body, text, 'the artifact holds the very text')
})

test('bad bodies are 4xx with a code: Content-Encoding (415), multipart without boundary or truncated (400), 406', async (t) => {
  const app = await build(t)
  const gz = await app.inject({ method: 'POST', url: '/api/jobs/sleep', headers: { ...AUTH.alice, 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: '{"seconds":0}' })
  t.match({ ...gz.json<ErrorBody>(), statusCode: gz.statusCode }, { statusCode: 415, code: 'UNSUPPORTED_CONTENT_ENCODING' })

  const noBoundary = await app.inject({ method: 'POST', url: '/api/jobs/csv-profile', headers: { ...AUTH.alice, 'content-type': 'multipart/form-data' }, payload: multipartBody('B', [{ name: 'file', value: csv, filename: 'a.csv' }]) })
  t.match({ ...noBoundary.json<ErrorBody>(), statusCode: noBoundary.statusCode }, { statusCode: 400, code: 'BAD_MULTIPART' })

  const whole = multipartBody('B', [{ name: 'input', value: '{}' }, { name: 'file', value: csv.repeat(100), filename: 'a.csv', type: 'text/csv' }])
  const truncated = await app.inject({ method: 'POST', url: '/api/jobs/csv-profile', headers: { ...AUTH.alice, 'content-type': 'multipart/form-data; boundary=B' }, payload: whole.slice(0, whole.length - 300) })
  t.match({ ...truncated.json<ErrorBody>(), statusCode: truncated.statusCode }, { statusCode: 400, code: 'BAD_MULTIPART' })
  t.same(await app.jobcast.service.files.jobIds(), [], 'the truncated upload left no folder')

  const notSse = await app.inject({ method: 'GET', url: '/api/events', headers: { ...AUTH.alice, accept: 'application/json' } })
  t.match({ ...notSse.json<ErrorBody>(), statusCode: notSse.statusCode }, { statusCode: 406, code: 'NOT_ACCEPTABLE' })
})
