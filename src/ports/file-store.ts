import type { Readable } from 'node:stream'

/**
 * Where a job's uploads and artifacts live, addressed by job id and a relative name (`uploads/1.csv`,
 * `artifacts/summary.parquet`); never by one node's absolute path.
 */
export interface FileStore {
  /** Writes a file from a stream; resolves with its size in bytes. Rejects (leaving nothing) if the stream fails. */
  write (jobId: string, name: string, source: Readable | AsyncIterable<Uint8Array>, options?: { signal?: AbortSignal }): Promise<number>
  /** Opens a file to read; rejects with code `FILE_NOT_FOUND` when there is none. */
  read (jobId: string, name: string): Promise<Readable>
  /** Size in bytes, or undefined when there is no such file. */
  size (jobId: string, name: string): Promise<number | undefined>
  /** A path on this node's disk to the file, for handlers that need random access (local and shared-directory stores). */
  localPath (jobId: string, name: string): string
  /** Deletes every file of the job. */
  remove (jobId: string): Promise<void>
  /** Ids of the jobs that have files (for sweeping folders no job owns). */
  jobIds (): Promise<string[]>
}
