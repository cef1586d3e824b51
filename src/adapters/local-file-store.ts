import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import { dirname, join, normalize, sep } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { JobcastError } from '../errors.ts'
import type { FileStore } from '../ports/file-store.ts'

const JOB_ID = /^[0-9a-z]{1,64}$/

/**
 * The default {@link FileStore}: `<root>/<jobId>/<name>` on a local (or shared, mounted) directory. A file is
 * written under a temporary name and renamed when complete, so a reader never sees half a file.
 */
export class LocalFileStore implements FileStore {
  readonly root: string

  constructor (root: string) {
    this.root = root
  }

  localPath (jobId: string, name: string): string {
    if (!JOB_ID.test(jobId)) throw new JobcastError('INVALID_FILE_NAME', `"${jobId}" is not a job id`)
    const relative = normalize(name)
    if (relative.startsWith('..') || relative.startsWith(sep) || relative === '.' || relative.includes(`${sep}..`)) {
      throw new JobcastError('INVALID_FILE_NAME', `"${name}" is not a relative file name`)
    }
    return join(this.root, jobId, relative)
  }

  async write (jobId: string, name: string, source: Readable | AsyncIterable<Uint8Array>, options: { signal?: AbortSignal } = {}): Promise<number> {
    const path = this.localPath(jobId, name)
    await mkdir(dirname(path), { recursive: true })
    const partial = `${path}.partial`
    const out = createWriteStream(partial)
    try {
      await pipeline(source instanceof Readable ? source : Readable.from(source), out, options.signal === undefined ? {} : { signal: options.signal })
    } catch (err) {
      await rm(partial, { force: true })
      throw err
    }
    await rename(partial, path)
    return out.bytesWritten
  }

  async read (jobId: string, name: string): Promise<Readable> {
    const path = this.localPath(jobId, name)
    if (await this.size(jobId, name) === undefined) throw new JobcastError('FILE_NOT_FOUND', `job ${jobId} has no file "${name}"`)
    return createReadStream(path)
  }

  async size (jobId: string, name: string): Promise<number | undefined> {
    try {
      return (await stat(this.localPath(jobId, name))).size
    } catch {
      return undefined
    }
  }

  async remove (jobId: string): Promise<void> {
    await rm(join(this.root, jobId), { recursive: true, force: true })
  }

  async jobIds (): Promise<string[]> {
    try {
      return (await readdir(this.root, { withFileTypes: true })).filter((d) => d.isDirectory() && JOB_ID.test(d.name)).map((d) => d.name)
    } catch {
      return []
    }
  }
}
