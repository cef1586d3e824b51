import { test } from 'tap'
import { hashBytes, hashOut } from '../../src/csv/hash.ts'
import { HyperLogLog } from '../../src/csv/hll.ts'
import { ValueCounter } from '../../src/csv/value-counter.ts'

function add (v: ValueCounter, s: string, off: number): void {
  const b = Buffer.from(s)
  hashBytes(b, 0, b.length)
  v.add(hashOut[0]!, hashOut[1]!, off, b.length)
}

test('HyperLogLog estimates are within 2% from 1 to 2 million distinct values', async (t) => {
  const h = new HyperLogLog()
  const checkpoints = new Set([1, 10, 1000, 50_000, 150_000, 300_000, 1_000_000, 2_000_000])
  const b = Buffer.alloc(16)
  for (let i = 1; i <= 2_000_000; i++) {
    const n = b.write(`v${i}`)
    hashBytes(b, 0, n)
    h.add(hashOut[0]!, hashOut[1]!)
    if (checkpoints.has(i)) {
      const e = h.estimate()
      t.ok(Math.abs(e - i) <= Math.max(0.02 * i, 0.5), `${i} distinct: estimate ${e}`)
    }
  }
  const copy = HyperLogLog.fromBase64(h.toBase64())
  t.equal(copy.estimate(), h.estimate())
})

test('exact below the cap, estimated above it; heavy hitters survive', async (t) => {
  const v = new ValueCounter(1000)
  let off = 0
  for (let i = 0; i < 1000; i++) add(v, `u${i}`, off++)
  t.equal(v.distinct(), 1000)
  t.equal(v.approximate, false)
  add(v, 'u5', off++)
  t.equal(v.distinct(), 1000)
  t.same(v.top(1), [{ count: 2, offset: 5, length: 2 }])
  // 200k more distinct values, with 'hot' every 5th value.
  for (let i = 0; i < 200_000; i++) add(v, i % 5 === 0 ? 'hot' : `w${i}`, off++)
  t.equal(v.approximate, true)
  const d = v.distinct()
  t.ok(Math.abs(d - 161_001) <= 0.02 * 161_001, `distinct estimate ${d} of 161001`)
  const [top] = v.top(1)
  t.equal(top!.offset, 1001, 'first occurrence of the hot value')
  // Misra-Gries lower bound: true count minus at most N / (k + 1).
  t.ok(top!.count <= 40_000 && top!.count >= 40_000 - 201_001 / 1025, `hot count ${top!.count}`)
  const restored = ValueCounter.fromState(1000, JSON.parse(JSON.stringify(v.toState())))
  t.equal(restored.distinct(), v.distinct())
  t.same(restored.top(10), v.top(10))
})

test('a very wide file: the small table is reused for the Misra-Gries summary, which keeps the heavy hitters', async (t) => {
  // 30,000 columns: cap 39 (a 128-slot table), 29 summary entries (64 slots): the table is reused in place.
  const v = new ValueCounter(39, 30_000)
  let off = 0
  for (let i = 0; i < 300; i++) {
    add(v, 'heavy', off++)
    if (i % 3 === 0) add(v, 'second', off++)
    add(v, `rare${i}`, off++)
  }
  t.ok(v.approximate)
  const top = v.top(2)
  t.same(top.map((e) => e.offset), [0, 1], 'the two heavy values first, located at their first occurrence')
  // Misra-Gries lower bounds: off by at most (values counted) / (entries + 1).
  t.ok(top[0]!.count <= 300 && top[0]!.count >= 300 - off / 30, `heavy counted ${top[0]!.count}`)
  t.ok(Math.abs(v.distinct() - 302) <= 302 * 0.1, `distinct estimate ${v.distinct()}`)
  const copy = ValueCounter.fromState(39, v.toState(), 30_000)
  t.same(copy.top(10), v.top(10), 'the same summary after a round trip')
})
