// Worker thread of a parallel profile. Two tasks: `range` profiles the rows of one byte range
// (progress messages after each chunk, a snapshot of its statistics when the control word asks,
// stops when it says abort); `merge` joins the ranges' statistics in file order and builds the
// column profiles, reading back the few reported values from the file.

import { open } from 'node:fs/promises'
import { parentPort } from 'node:worker_threads'
import { finalizeColumn } from './finalize.ts'
import { scanRange } from './range-scan.ts'
import { RowProcessor } from './row-processor.ts'
import { CONTROL_ABORT, CONTROL_SNAPSHOT, type MergeTask, type RangeTask } from './worker-protocol.ts'

class Aborted extends Error {}

async function runRange (t: RangeTask): Promise<unknown> {
  const control = new Int32Array(t.control)
  const fh = await open(t.path, 'r')
  try {
    const proc = t.state === null ? new RowProcessor(t.options) : new RowProcessor(t.options, t.state)
    const end = await scanRange(fh, proc, {
      start: t.offset,
      stopAt: t.stopAt,
      size: t.size,
      bufferBytes: t.bufferBytes,
      maxRowBytes: t.maxRowBytes,
      chunkRows: t.chunkRows,
      // A worker has nothing else to do: no yields.
      yieldEveryMs: Infinity,
      onChunk: (at) => { parentPort!.postMessage({ kind: 'progress', at, rows: proc.rows + proc.malformedRows }) },
      poll: (at) => {
        const flags = Atomics.load(control, 0)
        if (flags === 0) return
        if ((flags & CONTROL_ABORT) !== 0) throw new Aborted('aborted')
        Atomics.and(control, 0, ~CONTROL_SNAPSHOT)
        parentPort!.postMessage({ kind: 'snapshot', at, state: proc.toState() })
      }
    })
    return { kind: 'done', end, state: proc.toState() }
  } finally {
    await fh.close()
  }
}

async function runMerge (t: MergeTask): Promise<unknown> {
  const [first, ...rest] = t.states.map((s) => new RowProcessor(t.options, s))
  for (const r of rest) first!.merge(r)
  const fh = await open(t.path, 'r')
  try {
    const read = async (off: number, n: number): Promise<Buffer> => {
      const b = Buffer.alloc(n)
      await fh.read(b, 0, n, off)
      return b
    }
    const columnStats = []
    for (let i = 0; i < t.header.length; i++) columnStats.push(await finalizeColumn(t.header[i]!, first!.cols[i]!, t.options.encoding, read))
    return { kind: 'done', rows: first!.rows, malformedRows: first!.malformedRows, malformedLines: first!.malformedLines, sample: first!.sample, columnStats }
  } finally {
    await fh.close()
  }
}

parentPort!.on('message', (task: RangeTask | MergeTask) => {
  const run = task.kind === 'range' ? runRange(task) : runMerge(task)
  run.then((m) => { parentPort!.postMessage(m) }, (err: unknown) => {
    const e = err as Error & { code?: string }
    parentPort!.postMessage(err instanceof Aborted
      ? { kind: 'error', name: 'AbortError', code: 'ABORTED', message: 'aborted' }
      : { kind: 'error', name: e.name, code: e.code, message: e.message ?? String(err) })
  })
})
