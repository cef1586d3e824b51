import type { Logger } from 'pino'
import type { FileStore } from '../ports/file-store.ts'
import type { JobStore } from '../ports/job-store.ts'

/**
 * Removes the file folders of jobs the store does not have: uploads cut short by a kill, or refused starts whose
 * cleanup never ran. Only safe before this process takes starts, and only where no other process writes the files.
 */
export async function sweepOrphanFolders (store: JobStore, files: FileStore, log: Pick<Logger, 'warn'>): Promise<number> {
  let removed = 0
  for (const id of await files.jobIds()) {
    if (await store.get(id) !== undefined) continue
    await files.remove(id)
    removed++
  }
  if (removed > 0) log.warn({ removed }, 'removed upload folders that belong to no job (uploads cut short by a crash)')
  return removed
}
