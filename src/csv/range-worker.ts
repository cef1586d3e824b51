// Worker thread of a parallel profile. Two tasks: `range` profiles the rows of one byte range
// (progress messages after each chunk, a snapshot of its statistics when the control word asks,
// stops when it says abort); `merge` joins the ranges' statistics in file order and builds the
// column profiles, reading back the few reported values from the file; `parquet` writes the
// Parquet outputs of a finished profile.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { finalizeColumns } from './finalize.ts'
import { scanRange } from './range-scan.ts'
import { RowProcessor, type RowProcessorState } from './row-processor.ts'
import { jsonArrayBytes, Utf8Sink } from './utf8-sink.ts'
import { CONTROL_ABORT, CONTROL_SNAPSHOT, type MergedProfile, type MergeTask, type ParquetRequest, type ParquetTask, type RangeTask, type StateRef } from './worker-protocol.ts'

class Aborted extends Error {}

// Linux (and macOS) give each thread its own nice value, and setpriority on "this process" sets
// the calling thread's: the workers yield the CPU to the event loop's thread, not the reverse.
const nice = (workerData as { nice?: number } | null)?.nice ?? 0
if (nice > 0) {
  try { setPriority(nice) } catch { /* not permitted or not supported: normal priority */ }
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function loadState (ref: StateRef, stateDir: string | null): RowProcessorState {
  if ('json' in ref) return ref.json
  if ('bytes' in ref) return JSON.parse(decoder.decode(ref.bytes)) as RowProcessorState
  return JSON.parse(readFileSync(join(stateDir!, ref.file), 'utf8')) as RowProcessorState
}

// Written to a temporary name, fsynced and renamed: a checkpoint never points at half a file.
function writeState (dir: string, name: string, bytes: Uint8Array): void {
  const tmp = join(dir, `${name}.tmp`)
  const fd = openSync(tmp, 'w')
  try {
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, join(dir, name))
}

/** A snapshot or final state, as transferable bytes and, with a state folder, as a file. */
function publish (t: RangeTask, proc: RowProcessor, name: string): { bytes: Uint8Array, file?: string } {
  const bytes = encoder.encode(JSON.stringify(proc.toState()))
  if (t.stateDir === null) return { bytes }
  writeState(t.stateDir, name, bytes)
  return { bytes, file: name }
}

/**
 * A snapshot written to the state folder a column at a time (the same JSON as `toState`): the state of a 30,000-column
 * file is never whole in memory, as objects and then as one string, at once (see Utf8Sink: a checkpoint every 2 s
 * kept ~100 MB of old garbage around when its text was gathered into megabyte strings).
 */
function writeStateByColumn (dir: string, name: string, proc: RowProcessor): void {
  const tmp = join(dir, `${name}.tmp`)
  const fd = openSync(tmp, 'w')
  try {
    const sink = new Utf8Sink((bytes) => {
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off)
    })
    const { columns: _none, ...rest } = proc.toState({ columns: false })
    // `columns` last, empty: the text up to its `[`, then each column's state, then `]}`.
    sink.write(JSON.stringify({ ...rest, columns: [] }).slice(0, -2))
    for (let i = 0; i < proc.cols.length; i++) sink.write((i === 0 ? '' : ',') + JSON.stringify(proc.cols[i]!.toState()))
    sink.write(']}')
    sink.end()
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, join(dir, name))
}

async function runRange (t: RangeTask): Promise<unknown> {
  const control = new Int32Array(t.control)
  const fh = await open(t.path, 'r')
  try {
    // `let`: dropped once finalized, so that the Parquet stage does not hold the statistics too.
    let proc: RowProcessor | null = t.state === null ? new RowProcessor(t.options) : new RowProcessor(t.options, loadState(t.state, t.stateDir))
    const end = await scanRange(fh, proc, {
      start: t.offset,
      stopAt: t.stopAt,
      size: t.size,
      bufferBytes: t.bufferBytes,
      maxRowBytes: t.maxRowBytes,
      chunkRows: t.chunkRows,
      // A worker has nothing else to do: no yields.
      yieldEveryMs: Infinity,
      onChunk: (at) => { parentPort!.postMessage({ kind: 'progress', at, rows: proc!.rows + proc!.malformedRows }) },
      poll: (at) => {
        const flags = Atomics.load(control, 0)
        if (flags === 0) return
        if ((flags & CONTROL_ABORT) !== 0) throw new Aborted('aborted')
        Atomics.and(control, 0, ~CONTROL_SNAPSHOT)
        const name = `range-${t.index}-${Atomics.load(control, 1)}.json`
        // With a state folder the parent only needs the file name.
        if (t.stateDir !== null) {
          writeStateByColumn(t.stateDir, name, proc!)
          parentPort!.postMessage({ kind: 'snapshot', at, file: name })
        } else {
          const { bytes } = publish(t, proc!, name)
          parentPort!.postMessage({ kind: 'snapshot', at, bytes }, [bytes.buffer as ArrayBuffer])
        }
      }
    })
    // The only range: its statistics are the file's, finalized here rather than sent to a merge.
    if (t.finalize !== undefined) {
      const rows = proc.rows + proc.malformedRows
      const profile = await profileOf(proc, t.finalize.header, t.options, fh)
      proc = null
      const files = await parquetOf(profile, t.finalize.parquet)
      return { kind: 'done', end, rows, headerPending: false, profile: asJson(profile, t.finalize.columnsJson), files, retire: retires(t.options.columns) }
    }
    const { bytes, file } = publish(t, proc, `range-${t.index}-done.json`)
    return { kind: 'done', end, rows: proc.rows + proc.malformedRows, headerPending: proc.headerPending, bytes, file }
  } finally {
    await fh.close()
  }
}

/** The reported part of a profile from the statistics of the whole file, reading back values. */
async function profileOf (proc: RowProcessor, header: string[], options: RangeTask['options'], fh: FileHandle): Promise<MergedProfile> {
  // The statistics are freed as soon as they are read, before the values are read back (RowProcessor.release).
  const columnStats = await finalizeColumns(header, proc.cols, options.encoding, fh, () => { proc.release() })
  return { rows: proc.rows, malformedRows: proc.malformedRows, malformedLines: proc.malformedLines, sample: proc.sample, columnStats }
}

async function runMerge (t: MergeTask): Promise<unknown> {
  const states = t.states.map((s) => new RowProcessor(t.options, loadState(s, t.stateDir)))
  for (const r of states.slice(1)) states[0]!.merge(r)
  const fh = await open(t.path, 'r')
  try {
    const profile = await profileOf(states[0]!, t.header, t.options, fh)
    // The statistics are not needed by the Parquet stage.
    states.length = 0
    const files = await parquetOf(profile, t.parquet)
    return { kind: 'done', profile: asJson(profile, t.columnsJson), files, retire: retires(t.options.columns) }
  } finally {
    await fh.close()
  }
}

/** Columns from which a finalizing worker asks to end once done (`retire`). */
const RETIRE_COLUMNS = 1000

/**
 * Whether the worker that finalized a profile of `columns` columns should end rather than idle: a wide profile's
 * finalize and Parquet writing leave ~100-200 MB of garbage in its heap that V8 keeps for a while, while the job
 * writes its outputs (a new worker starts in ~30 ms).
 */
function retires (columns: number): boolean {
  return columns >= RETIRE_COLUMNS
}

/**
 * The profile with its column profiles as JSON bytes when asked (`columnsJson`), else as it is. Written a column at a
 * time: at 30,000 columns the text of the whole array was a 15 MB string, on top of its bytes, at the worker's peak.
 */
function asJson (profile: MergedProfile, columnsJson: boolean | undefined): MergedProfile {
  if (columnsJson !== true) return profile
  return { ...profile, columnStats: [], columnsJson: jsonArrayBytes(profile.columnStats) }
}

/** Writes the Parquet outputs of a finalized profile when asked (the statistics it came from are no longer referenced). */
async function parquetOf (merged: MergedProfile, req: ParquetRequest | undefined): Promise<unknown> {
  if (req === undefined) return undefined
  const { writeProfileParquet } = await import('./parquet.ts')
  const durationMs = req.elapsedBefore + performance.timeOrigin + performance.now() - req.startedAt
  return await writeProfileParquet(req.outDir, { ...req.base, ...merged, durationMs })
}

// The Parquet writer is loaded on the first `parquet` task only: it costs a range worker ~25 ms
// of start-up that a profile would wait for.
async function runParquet (t: ParquetTask): Promise<unknown> {
  const { writeProfileParquet } = await import('./parquet.ts')
  return { kind: 'done', files: await writeProfileParquet(t.outDir, t.profile) }
}

parentPort!.on('message', (task: RangeTask | MergeTask | ParquetTask) => {
  const run = task.kind === 'range'
    ? runRange(task)
    : task.kind === 'merge' ? runMerge(task) : runParquet(task)
  run.then((m) => {
    // State bytes and column JSON are moved, not copied.
    const { bytes, profile } = m as { bytes?: Uint8Array, profile?: MergedProfile }
    const transfer = [bytes, ...profile?.columnsJson ?? []].flatMap((b) => b === undefined ? [] : [b.buffer as ArrayBuffer])
    parentPort!.postMessage(m, transfer)
  }, (err: unknown) => {
    const e = err as Error & { code?: string }
    parentPort!.postMessage(err instanceof Aborted
      ? { kind: 'error', name: 'AbortError', code: 'ABORTED', message: 'aborted' }
      : { kind: 'error', name: e.name, code: e.code, message: e.message ?? String(err) })
  })
})
