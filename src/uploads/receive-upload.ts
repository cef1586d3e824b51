import { extname } from 'node:path'
import type { Readable } from 'node:stream'
import type { FilesSpec } from '../core/define-job.ts'
import type { JobFile } from '../core/model.ts'
import { ClientError, JobcastError } from '../errors.ts'
import type { FileStore } from '../ports/file-store.ts'

/** One part of a multipart body, as @fastify/multipart yields it (only what an upload needs). */
export type UploadPart =
  | { type: 'field', fieldname: string, value: unknown, valueTruncated?: boolean }
  | { type: 'file', fieldname: string, filename: string, mimetype: string, file: Readable & { truncated?: boolean } }

/** Limits for the multipart parser, derived from a type's files spec. */
export interface UploadLimits {
  fileSize: number
  files: number
  fields: number
  fieldSize: number
  parts: number
}

/** Opens the parts of the request with these limits. */
export type PartsSource = (limits: UploadLimits) => AsyncIterable<UploadPart>

/** What a multipart start carried: the `input` field and the files, already in the file store. */
export interface ReceivedUpload {
  input: unknown
  /** The `notify` field, parsed; kept out of the input. */
  notify?: unknown
  files: JobFile[]
}

const MiB = 1024 * 1024

/** Whether a file is acceptable by its name's extension or its declared MIME type. */
export function acceptsFile (spec: FilesSpec, name: string, mimeType: string): boolean {
  if (spec.accept === undefined || spec.accept.length === 0) return true
  const ext = extname(name).toLowerCase()
  return spec.accept.some((a) => a.startsWith('.') ? a.toLowerCase() === ext : a.toLowerCase() === mimeType.toLowerCase())
}

/**
 * Streams a multipart start's files into the file store under `jobId` as they arrive (never buffered whole),
 * enforcing the type's limits while streaming. Stored names are generated; the client's name is kept only as data.
 * On any error the job's files are removed and a 4xx says what to fix.
 */
export async function receiveUpload (parts: PartsSource, type: string, spec: FilesSpec, store: FileStore, jobId: string): Promise<ReceivedUpload> {
  const min = spec.min ?? 1
  const max = spec.max ?? 1
  const files: JobFile[] = []
  let input: unknown = {}
  let notify: unknown
  // The file being received, to name it if it breaks a limit.
  let current = ''
  try {
    for await (const part of parts({ fileSize: spec.maxBytes, files: max + 1, fields: 20, fieldSize: MiB, parts: max + 21 })) {
      if (part.type === 'field') {
        if (part.fieldname === 'input') input = parseInputField(part.value)
        if (part.fieldname === 'notify') notify = parseInputField(part.value)
        continue
      }
      if (files.length === max) {
        throw new ClientError(400, 'TOO_MANY_FILES', `job type "${type}" takes at most ${max} file${max === 1 ? '' : 's'}`)
      }
      const name = part.filename ?? ''
      if (!acceptsFile(spec, name, part.mimetype)) {
        throw new ClientError(415, 'FILE_TYPE_NOT_ACCEPTED', `"${name}" is not accepted by job type "${type}"; send ${spec.accept!.join(', ')}`)
      }
      // The stored name never comes from the client: index plus a checked extension.
      const ext = /^\.[a-z0-9]{1,10}$/i.test(extname(name)) ? extname(name).toLowerCase() : ''
      const path = `uploads/${files.length + 1}${ext}`
      current = name
      const size = await store.write(jobId, path, part.file)
      files.push({ field: part.fieldname, name: name.slice(0, 255), path, size, mimeType: part.mimetype })
    }
    if (files.length < min) {
      throw new ClientError(400, 'FILES_REQUIRED', `job type "${type}" needs at least ${min} file${min === 1 ? '' : 's'}, sent as multipart/form-data`)
    }
    return { input, notify, files }
  } catch (err) {
    await store.remove(jobId)
    if (err instanceof ClientError) throw err
    const code = (err as { code?: string }).code
    if (code === 'FST_REQ_FILE_TOO_LARGE') {
      throw new ClientError(413, 'FILE_TOO_LARGE', `"${current}" is larger than ${formatBytes(spec.maxBytes)}, the limit of job type "${type}"`)
    }
    if (code === 'FST_FILES_LIMIT' || code === 'FST_PARTS_LIMIT') throw new ClientError(400, 'TOO_MANY_FILES', `job type "${type}" takes at most ${max} file${max === 1 ? '' : 's'}`)
    if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE' || code === 'FST_FIELDS_LIMIT') throw new ClientError(400, 'BAD_MULTIPART', (err as Error).message)
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new JobcastError('INSUFFICIENT_STORAGE', 'the server has no room for the upload now; try again later', 507)
    // The parser's own errors (no boundary, a truncated body, a malformed part header) carry no code: the body is at fault.
    if (code === undefined && err instanceof Error) throw new ClientError(400, 'BAD_MULTIPART', `the multipart body is malformed: ${err.message}`)
    throw err
  }
}

function parseInputField (value: unknown): unknown {
  try {
    return JSON.parse(String(value))
  } catch {
    throw new ClientError(400, 'INVALID_INPUT', 'the "input" field must be JSON, e.g. {"delimiter": ";"}')
  }
}

/** "200 MiB", "512 KiB", "12 bytes". */
export function formatBytes (bytes: number): string {
  if (bytes >= MiB) return `${Math.round((bytes / MiB) * 10) / 10} MiB`
  if (bytes >= 1024) return `${Math.round((bytes / 1024) * 10) / 10} KiB`
  return `${bytes} bytes`
}
