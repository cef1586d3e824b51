import fp from 'fastify-plugin'
import { join } from 'node:path'
import { openDatabase, type Db } from '../adapters/sqlite/database.ts'
import { SqliteJobStore } from '../adapters/sqlite/sqlite-job-store.ts'
import type { JobStore } from '../adapters/sqlite/types.ts'
import { SqliteUserStore } from '../adapters/sqlite/sqlite-user-store.ts'
import type { UserStore } from '../ports/user-store.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Durable jobs. */
    jobStore: JobStore
    /** Users, tokens and sessions. */
    userStore: UserStore
    /** Folder of the jobs' uploads and artifacts. */
    filesDir: string
  }
}

/** Options of the store plugin. */
export interface StorePluginOptions {
  /** Folder of the SQLite file and the job files. */
  dataDir: string
}

/** Opens the SQLite store under the data folder; closes it when the server closes. */
export default fp<StorePluginOptions>(async (fastify, opts) => {
  const db: Db = openDatabase(opts.dataDir)
  const jobStore = new SqliteJobStore(db, {
    onError: (err) => { fastify.log.error({ err }, 'a group commit of job state changes failed; those jobs run again after a restart') }
  })
  fastify.decorate('jobStore', jobStore)
  fastify.decorate('userStore', new SqliteUserStore(db))
  fastify.decorate('filesDir', join(opts.dataDir, 'files'))
  fastify.addHook('onClose', async () => {
    jobStore.flush()
    db.close()
  })
}, { name: 'job-store' })
