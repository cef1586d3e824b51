import { extname } from 'node:path'
import { ClientError } from '../errors.ts'
import { newId } from '../lib/ids.ts'
import type { FileStore } from '../ports/file-store.ts'
import { formatBytes, type PartsSource } from './receive-upload.ts'

/** The limits of one batch request (JOBCAST_BATCH_MAX_FILES, JOBCAST_BATCH_MAX_FILE_BYTES, JOBCAST_BATCH_MAX_BYTES). */
export interface BatchLimits {
  maxFiles: number
  maxFileBytes: number
  maxBytes: number
}

/** One received file, stored under the id of the child job it will belong to. */
export interface BatchFile {
  jobId: string
  field: string
  name: string
  /** Relative to the child's folder in the file store. */
  path: string
  size: number
  mimeType: string
}

/** What a batch request carried: its JSON fields and its files, already in the file store. */
export interface ReceivedBatch {
  /** The `input` field, parsed (default `{}`). */
  input: unknown
  /** The `notify` field, parsed (undefined when absent). */
  notify: unknown
  files: BatchFile[]
}

const MiB = 1024 * 1024

/**
 * Streams every file part of a batch request into the file store, each under a new job id, as it arrives (never
 * buffered whole). A limit broken is a 413 naming it, and every file already written is removed first: a refused
 * batch leaves nothing on disk.
 */
export async function receiveBatch (parts: PartsSource, limits: BatchLimits, store: FileStore): Promise<ReceivedBatch> {
  const files: BatchFile[] = []
  let input: unknown = {}
  let notify: unknown
  let total = 0
  let current = ''
  let writing: string | undefined
  try {
    for await (const part of parts({ fileSize: limits.maxFileBytes, files: limits.maxFiles + 1, fields: 20, fieldSize: MiB, parts: limits.maxFiles + 21 })) {
      if (part.type === 'field') {
        if (part.fieldname === 'input') input = parseJsonField('input', part.value)
        if (part.fieldname === 'notify') notify = parseJsonField('notify', part.value)
        continue
      }
      if (files.length === limits.maxFiles) throw tooManyFiles(limits)
      current = part.filename ?? ''
      const jobId = newId()
      const ext = /^\.[a-z0-9]{1,10}$/i.test(extname(current)) ? extname(current).toLowerCase() : ''
      const path = `uploads/1${ext}`
      writing = jobId
      // Counts the batch's bytes as they stream: the request is cut at the limit, not after it.
      const counted = async function * (source: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
        for await (const chunk of source) {
          total += chunk.length
          if (total > limits.maxBytes) throw new ClientError(413, 'BATCH_TOO_LARGE', `the batch is larger than ${formatBytes(limits.maxBytes)}, the limit JOBCAST_BATCH_MAX_BYTES`)
          yield chunk
        }
      }
      const size = await store.write(jobId, path, counted(part.file))
      writing = undefined
      files.push({ jobId, field: part.fieldname, name: current.slice(0, 255), path, size, mimeType: part.mimetype })
    }
    return { input, notify, files }
  } catch (err) {
    await Promise.all([...files.map((f) => f.jobId), ...writing === undefined ? [] : [writing]].map(async (id) => { await store.remove(id) }))
    if (err instanceof ClientError) throw err
    const code = (err as { code?: string }).code
    if (code === 'FST_REQ_FILE_TOO_LARGE') {
      throw new ClientError(413, 'BATCH_FILE_TOO_LARGE', `"${current}" is larger than ${formatBytes(limits.maxFileBytes)}, the limit JOBCAST_BATCH_MAX_FILE_BYTES`)
    }
    if (code === 'FST_FILES_LIMIT' || code === 'FST_PARTS_LIMIT') throw tooManyFiles(limits)
    if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE' || code === 'FST_FIELDS_LIMIT') throw new ClientError(400, 'BAD_MULTIPART', (err as Error).message)
    throw err
  }
}

function tooManyFiles (limits: BatchLimits): ClientError {
  return new ClientError(413, 'BATCH_TOO_MANY_FILES', `a batch takes at most ${limits.maxFiles} files, the limit JOBCAST_BATCH_MAX_FILES`)
}

function parseJsonField (name: string, value: unknown): unknown {
  try {
    return JSON.parse(String(value))
  } catch {
    throw new ClientError(400, name === 'input' ? 'INVALID_INPUT' : 'INVALID_NOTIFY', `the "${name}" field must be JSON`)
  }
}
