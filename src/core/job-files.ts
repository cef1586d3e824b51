import { rm } from 'node:fs/promises'
import { join } from 'node:path'

const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/

/** Whether a name can be used as a file name as it is (no separators, no leading dot). */
export function isSafeFileName (name: string): boolean {
  return SAFE_NAME.test(name)
}

/** The folder of one job's files. */
export function jobDir (filesDir: string, jobId: string): string {
  return join(filesDir, jobId)
}

/** Where a job's uploads are kept. */
export function uploadsDir (filesDir: string, jobId: string): string {
  return join(filesDir, jobId, 'uploads')
}

/** Where a job's artifacts are written. */
export function artifactsDir (filesDir: string, jobId: string): string {
  return join(filesDir, jobId, 'artifacts')
}

/** Deletes a job's folder, uploads and artifacts alike. */
export async function removeJobFiles (filesDir: string, jobId: string): Promise<void> {
  await rm(jobDir(filesDir, jobId), { recursive: true, force: true })
}
