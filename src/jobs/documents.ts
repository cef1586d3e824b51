import { open } from 'node:fs/promises'
import { Type } from 'typebox'
import { defineJob, MiB, type JobDefinition } from '../core/define-job.ts'
import { accepts, DETECT_BYTES, EXTENSIONS, inspectDocument, UNSUPPORTED_TYPE, type DocumentInspection } from '../documents/index.ts'
import { ClientError, PermanentError } from '../errors.ts'

/** What one documents job returns: the file's name and its inspection (one level deep, so a results export flattens it). */
export type DocumentResult = { file: string } & DocumentInspection

/** Options of {@link documentsJob}. */
export interface DocumentsJobOptions {
  /** Largest file, in bytes (default 100 MiB). */
  maxBytes?: number
  /** Largest XML read for its CFDI fields, in bytes (default 10 MiB). */
  maxXmlBytes?: number
}

/**
 * Inspects one document: kind by content (XML, CSV, PDF, PNG, JPEG), size and SHA-256; CFDI invoice fields of an XML,
 * the shape of a CSV, the pages of a PDF, the pixel size of an image. The per-file child of a `documents` batch.
 */
export function documentsJob (options: DocumentsJobOptions = {}): JobDefinition {
  return defineJob({
    type: 'documents',
    description: 'Inspects a document: kind by content, size, SHA-256; CFDI 3.3/4.0 invoice fields, CSV shape, PDF pages or image size.',
    input: Type.Object({}, { additionalProperties: false }),
    files: { min: 1, max: 1, maxBytes: options.maxBytes ?? 100 * MiB, accept: Object.values(EXTENSIONS).flat() },
    // Reading is I/O and a little CPU: a handful at once keeps a batch moving without starving other work.
    concurrency: 4,
    // Every failure that depends on the file is permanent; a retry is for the disk hiccup that is not.
    retry: { attempts: 2, backoff: 'fixed', baseMs: 1000 },
    async preview ({ files }) {
      const file = files[0]!
      const verdict = accepts(file.name, await readHead(file.path))
      if (!verdict.ok) throw new ClientError(415, UNSUPPORTED_TYPE, verdict.message)
      return { kind: verdict.kind }
    },
    async run (ctx) {
      const file = ctx.files[0]!
      // Checked again here: a batch creates its children without this type's preview.
      const verdict = accepts(file.name, await readHead(file.path))
      if (!verdict.ok) throw new PermanentError(UNSUPPORTED_TYPE, verdict.message)
      ctx.progress({ stage: 'inspecting', message: `inspecting ${file.name}` })
      const inspection = await inspectDocument(file.path, file.name, { signal: ctx.signal, maxXmlBytes: options.maxXmlBytes })
      const result: DocumentResult = { file: file.name, ...inspection }
      return result
    }
  }) as JobDefinition
}

/** The first bytes of a file, enough for {@link accepts}. */
export async function readHead (path: string): Promise<Buffer> {
  const fh = await open(path, 'r')
  try {
    const head = Buffer.alloc(DETECT_BYTES)
    const { bytesRead } = await fh.read(head, 0, DETECT_BYTES, 0)
    return head.subarray(0, bytesRead)
  } finally {
    await fh.close()
  }
}
