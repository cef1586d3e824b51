import { test } from 'tap'
import { InputPreviewCache } from '../../src/core/input-preview-cache.ts'
import type { JobRecord } from '../../src/core/model.ts'
import { makeJob } from '../ports/fixtures.ts'

/** A loader of `job` that counts its calls. */
function loader (job: JobRecord | undefined): { load: () => Promise<JobRecord | undefined>, calls: () => number } {
  let calls = 0
  return { load: async () => { calls++; return job }, calls: () => calls }
}

test('the view\'s end is the JSON of input and preview, read once per job', async (t) => {
  const cache = new InputPreviewCache()
  const job = makeJob({ input: { n: 'é' }, preview: { rows: [['a', 1]] } })
  const { load, calls } = loader(job)
  const first = await cache.get(job.id, load)
  t.equal(first?.toString(), ',"input":{"n":"é"},"preview":{"rows":[["a",1]]}}')
  t.same(JSON.parse(`{"id":1${first!.toString()}`), { id: 1, input: job.input, preview: job.preview })
  t.equal(await cache.get(job.id, load), first, 'the same bytes again')
  t.equal(calls(), 1)
})

test('a job the loader does not find is undefined and not kept', async (t) => {
  const cache = new InputPreviewCache()
  const { load, calls } = loader(undefined)
  t.equal(await cache.get('gone', load), undefined)
  t.equal(await cache.get('gone', load), undefined)
  t.equal(calls(), 2)
})

test('past its budget the least recently read goes first; a view larger than the budget is never kept', async (t) => {
  // Each end is 40 bytes of `x` plus 30 of keys: two fit in 150 bytes, three do not.
  const cache = new InputPreviewCache(150)
  const jobs = [0, 1, 2].map(() => makeJob({ input: 'x'.repeat(40), preview: null }))
  const loads = jobs.map((job) => loader(job))
  for (const i of [0, 1]) await cache.get(jobs[i]!.id, loads[i]!.load)
  await cache.get(jobs[0]!.id, loads[0]!.load) // 0 is now the most recent
  await cache.get(jobs[2]!.id, loads[2]!.load) // 1 goes
  for (const i of [0, 1, 2]) await cache.get(jobs[i]!.id, loads[i]!.load)
  t.same(loads.map((l) => l.calls()), [1, 2, 2], '1 was read again, then 2 was the oldest and went')

  const big = makeJob({ input: 'y'.repeat(200) })
  const bigLoad = loader(big)
  t.match((await cache.get(big.id, bigLoad.load))?.toString(), /y{200}/)
  await cache.get(big.id, bigLoad.load)
  t.equal(bigLoad.calls(), 2)
})
