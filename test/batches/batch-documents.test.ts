import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'tap'
import { Type } from 'typebox'
import { defineJob } from '../../src/core/define-job.ts'
import type { BatchView } from '../../src/schemas/batch.ts'
import { AUTH, build } from '../helper.ts'
import { listen } from '../sse/fixtures.ts'
import { fiftyOneFiles, getBatch, sendBatch, waitForBatch } from './batch-fixtures.ts'

test('51 files in one request: 202 with 51 children before any starts; the client leaves; all end with their results; the exports have 51 rows', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const { files } = fiftyOneFiles()

  const res = await sendBatch(base, 'documents', files, { headers: { 'idempotency-key': 'drop-51' } })
  t.equal(res.status, 202, 'accepted')
  const accepted = await res.json() as BatchView
  t.equal(res.headers.get('location'), `/api/batches/${accepted.id}`)
  // The client is gone: its connection is closed before any child has run.
  app.server.closeAllConnections()
  t.equal(accepted.total, 51)
  t.equal(accepted.jobs.length, 51)
  t.equal(accepted.running + accepted.completed, 0, 'nothing ran before the answer')
  t.ok(accepted.jobs.every((job) => job.startedAt === null && (job.state === 'queued' || job.state === 'failed')), 'every child was created queued (or failed at intake), none started')
  t.same(accepted.jobs.map((j) => j.files[0]!.name), files.map((f) => f.name), 'one child per file, in file order')
  const intakeFailures = accepted.jobs.filter((j) => j.state === 'failed')
  t.same(intakeFailures.map((j) => [j.files[0]!.name, j.error?.code]), [['scan.pdf', 'UNSUPPORTED_TYPE'], ['blob.xml', 'UNSUPPORTED_TYPE']], 'files the type does not take fail at intake, counted, with their names')
  t.match(intakeFailures[0]!.error?.message, /scan\.pdf/)

  await waitForBatch(app, 'alice', accepted.id, (b) => b.done)
  const batch = await getBatch(base, accepted.id)
  t.match(batch, { total: 51, queued: 0, running: 0, completed: 47, failed: 4, canceled: 0, percent: 100, done: true, succeeded: false })
  t.ok(batch.finishedAt !== null)
  for (const [index, file] of files.entries()) {
    const job = batch.jobs[index]!
    t.equal(job.state, file.state, `${file.name}: ${file.state}`)
    if (file.code !== undefined) t.equal(job.error?.code, file.code, `${file.name}: ${file.code}`)
    if (file.result !== undefined) t.match(job.result, { file: file.name, ...file.result }, `${file.name}: its result`)
  }
  const result = batch.result as { cfdi: { invoices: number, duplicates: Array<{ uuid: string, names: string[] }>, totals: unknown[] } }
  t.equal(result.cfdi.invoices, 40)
  t.same(result.cfdi.duplicates, [{ uuid: '6F1E0B8A-3C2D-4E5F-8A9B-000000000000', indexes: [0, 1], names: ['factura-0.xml', 'factura-1.xml'] }])
  t.same(result.cfdi.totals, [
    { emisorRfc: 'AAA010101AAA', moneda: 'USD', invoices: 20, total: '2010.00', subtotal: '1732.80' },
    { emisorRfc: 'EKU9003173C9', moneda: 'MXN', invoices: 20, total: '23200.00', subtotal: '20000.00' }
  ])

  const csv = await (await fetch(`${base}/api/batches/${batch.id}/results.csv`, { headers: AUTH.alice })).text()
  const lines = csv.trimEnd().split('\r\n')
  t.equal(lines.length, 52, 'a header and 51 rows')
  t.match(lines[0], /^index,file,state,error_code,error_message,.*cfdi\.uuid/)
  t.match(lines.find((l) => l.includes('broken.xml')), /^49,broken\.xml,failed,MALFORMED_XML,/)
  const jsonl = (await (await fetch(`${base}/api/batches/${batch.id}/results.jsonl`, { headers: AUTH.alice })).text()).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.equal(jsonl.length, 51)
  t.match(jsonl[2], { index: 2, file: 'factura-2.xml', state: 'completed', 'cfdi.uuid': '6F1E0B8A-3C2D-4E5F-8A9B-000000000002', 'cfdi.version': '4.0' })
  t.match(jsonl[40], { file: 'data-0.csv', 'csv.rows': 10, 'csv.delimiter': ';' })

  const byBatch = await (await fetch(`${base}/api/jobs?batch=${batch.id}&limit=100`, { headers: AUTH.alice })).json() as { items: unknown[] }
  t.equal(byBatch.items.length, 51, 'GET /api/jobs?batch=ID lists the children')
  const again = await sendBatch(base, 'documents', files, { headers: { 'idempotency-key': 'drop-51' } })
  t.equal(again.status, 202)
  t.equal(again.headers.get('idempotent-replayed'), 'true')
  t.equal((await again.json() as BatchView).id, batch.id, 'the same key gives the same batch')
  const dirs = await readdir(join(app.jobcast.config.dataDir, 'files'))
  t.equal(dirs.length, 51, 'the replay left no files behind')
  const bob = await fetch(`${base}/api/batches/${batch.id}`, { headers: AUTH.bob })
  t.equal(bob.status, 404, 'another user\'s batch does not exist')
})

test('every child of a 51-file batch exists, queued or failed, when the first one starts', async (t) => {
  let app: Awaited<ReturnType<typeof build>> | undefined
  let seenAtFirstStart: number | undefined
  const probe = defineJob({
    type: 'probe-file',
    input: Type.Object({}),
    files: { min: 1, max: 1, maxBytes: 1e6 },
    async run (ctx) {
      // The first handler to run reads the store: a batch created child by child would show fewer than 51.
      if (seenAtFirstStart === undefined) {
        seenAtFirstStart = -1
        const job = (await app!.jobcast.service.store.get(ctx.id))!
        seenAtFirstStart = (await app!.jobcast.service.store.list(ctx.owner, { batchId: job.batchId!, limit: 100 })).length
      }
      return null
    }
  })
  app = await build(t, {}, [probe])
  const base = await listen(app)
  const files = Array.from({ length: 51 }, (_, i) => ({ name: `f${i}.csv`, body: 'a,b\n1,2\n' }))
  const res = await sendBatch(base, 'probe-file', files)
  t.equal(res.status, 202)
  const { id } = await res.json() as BatchView
  await waitForBatch(app, 'alice', id, (b) => b.done)
  t.equal(seenAtFirstStart, 51, 'all 51 children were in the store before any ran')
})
