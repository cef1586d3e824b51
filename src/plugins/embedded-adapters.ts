import type { Logger } from 'pino'
import { filesDirOf, type Config } from '../config.ts'
import { LocalFileStore } from '../adapters/local-file-store.ts'
import { MemoryJobEvents } from '../adapters/memory/memory-job-events.ts'
import { lockDataFolder } from '../adapters/sqlite/data-folder-lock.ts'
import { openDatabase } from '../adapters/sqlite/database.ts'
import { SqliteJobStore } from '../adapters/sqlite/sqlite-job-store.ts'
import { SqliteUserStore } from '../adapters/sqlite/sqlite-user-store.ts'
import type { FileStore } from '../ports/file-store.ts'
import type { JobEvents } from '../ports/job-events.ts'
import type { JobStore } from '../ports/job-store.ts'
import type { ServiceLimiter } from '../ports/service-limiter.ts'
import type { UserStore } from '../ports/user-store.ts'

/** The adapters a jobcast instance runs on, and how to release the ones it opened. */
export interface Adapters {
  store: JobStore
  events: JobEvents
  files: FileStore
  /** Absent when the host authenticates. */
  users?: UserStore | undefined
  /** Service limits shared by the nodes of a shared store (absent: in this process, exact for one node). */
  limiter?: ServiceLimiter | undefined
  close: () => Promise<void>
}

/**
 * The embedded default: SQLite under the data folder (locked for this process), in-process events, files under
 * `filesDir` (default `<dataDir>/files`). Needs no server.
 */
export async function openEmbeddedAdapters (config: Config, log: Logger): Promise<Adapters> {
  const lock = await lockDataFolder(config.dataDir, config.lockWaitMs)
  try {
    const db = openDatabase(config.dataDir)
    const store = new SqliteJobStore(db, {
      onError: (err) => { log.error({ err }, 'a group commit of job state changes failed; the accepted changes are tried again until the store takes them') },
      onRecovered: (attempts) => { log.warn({ attempts }, 'the store takes writes again: the held-back job state changes are committed') },
      onCorruptRecord: (jobId, columns) => { log.error({ jobId, columns }, 'a stored job could not be read; it failed with CORRUPT_RECORD and was set aside') }
    })
    const events = new MemoryJobEvents({ bufferSize: config.replayBuffer, log })
    const sweep = setInterval(() => { events.sweep() }, 60_000)
    sweep.unref()
    return {
      store,
      events,
      files: new LocalFileStore(filesDirOf(config)),
      users: new SqliteUserStore(db),
      close: async () => {
        clearInterval(sweep)
        await events.close()
        await store.close()
        db.close()
        lock.release()
      }
    }
  } catch (err) {
    lock.release()
    throw err
  }
}
