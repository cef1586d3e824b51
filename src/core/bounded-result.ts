import { Readable } from 'node:stream'
import { PermanentError } from '../errors.ts'
import type { FileStore } from '../ports/file-store.ts'
import type { JobStore } from '../ports/job-store.ts'

/** Name of the artifact a result too large for the job is stored as. */
export const RESULT_ARTIFACT = 'result.json'

/**
 * A result given as its JSON text (UTF-8), for a handler that has it already: a large one is written as `result.json`
 * as it is, never parsed or serialized again on the event loop (a 30,000-column CSV profile's 15 MB, which as objects
 * took ~60 MB more). A small one is parsed and kept like any other result.
 */
export class JsonText {
  /** The result's JSON in pieces, one after the other, which the handler vouches for (not checked when written). */
  readonly chunks: readonly Uint8Array[]
  /** The JSON as one buffer or as consecutive pieces (not joined: a large result is written piece by piece). */
  constructor (bytes: Uint8Array | readonly Uint8Array[]) {
    this.chunks = bytes instanceof Uint8Array ? [bytes] : bytes
  }
}

/** What a job carries instead of a result larger than the limit. */
export interface TruncatedResult {
  truncated: true
  artifact: typeof RESULT_ARTIFACT
  bytes: number
}

/**
 * The result as the job keeps it: itself when its JSON is within `maxBytes`, else a note pointing at the artifact
 * `result.json` that now holds it whole (every view of the job stays small). A result that cannot be JSON at all
 * (a BigInt, a cycle, beyond what a string can hold) fails the job with RESULT_NOT_SERIALIZABLE instead of leaving
 * it half-written.
 */
export async function boundedResult (value: unknown, job: { id: string }, deps: { files: FileStore, store: JobStore, maxBytes: number }): Promise<unknown> {
  if (value instanceof JsonText) {
    const chunks = value.chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))
    const bytes = chunks.reduce((sum, c) => sum + c.length, 0)
    if (bytes <= deps.maxBytes) return JSON.parse(Buffer.concat(chunks).toString('utf8'))
    await deps.files.write(job.id, `artifacts/${RESULT_ARTIFACT}`, Readable.from(chunks))
    await deps.store.addArtifact({ jobId: job.id, name: RESULT_ARTIFACT, size: bytes, contentType: 'application/json', createdAt: Date.now() })
    return { truncated: true, artifact: RESULT_ARTIFACT, bytes } satisfies TruncatedResult
  }
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (err) {
    throw new PermanentError('RESULT_NOT_SERIALIZABLE', `the job's result cannot be stored as JSON: ${(err as Error).message}`)
  }
  if (text === undefined) return null
  const bytes = Buffer.byteLength(text)
  if (bytes <= deps.maxBytes) return value
  await deps.files.write(job.id, `artifacts/${RESULT_ARTIFACT}`, Readable.from([text]))
  await deps.store.addArtifact({ jobId: job.id, name: RESULT_ARTIFACT, size: bytes, contentType: 'application/json', createdAt: Date.now() })
  return { truncated: true, artifact: RESULT_ARTIFACT, bytes } satisfies TruncatedResult
}
