import Database from 'better-sqlite3'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { JobcastError } from '../../errors.ts'

/** A held lock on a data folder; `release()` is safe to call twice. */
export interface DataFolderLock {
  release: () => void
}

/**
 * Takes the data folder for this process: one server per folder, so that two never run the same jobs. The lock is
 * an exclusive SQLite lock on `jobcast.lock` (a kernel file lock: released when the process exits, even by kill -9).
 * A server starting while another holds it (an overlapping restart) waits up to `waitMs`, then refuses to start
 * with an error naming the folder and the holder.
 */
export async function lockDataFolder (dataDir: string, waitMs: number): Promise<DataFolderLock> {
  mkdirSync(dataDir, { recursive: true })
  const holderFile = join(dataDir, 'jobcast.lock.holder')
  const deadline = Date.now() + waitMs
  let db = tryLock(join(dataDir, 'jobcast.lock'))
  // Polled, not SQLite's busy_timeout: that waits synchronously and would stall this process's event loop.
  while (db === undefined && Date.now() < deadline) {
    await sleep(Math.min(100, Math.max(1, deadline - Date.now())))
    db = tryLock(join(dataDir, 'jobcast.lock'))
  }
  if (db === undefined) {
    let holder = 'another process'
    try { holder = readFileSync(holderFile, 'utf8').trim() } catch {}
    throw new JobcastError('DATA_FOLDER_IN_USE', `the data folder ${dataDir} is in use by ${holder}; one server per data folder (waited ${waitMs} ms)`)
  }
  writeFileSync(holderFile, `pid ${process.pid} on ${hostname()} since ${new Date().toISOString()}\n`)
  let released = false
  const held = db
  return {
    release: () => {
      if (released) return
      released = true
      held.close()
    }
  }
}

// The lock if it is free now, else undefined.
function tryLock (path: string): Database.Database | undefined {
  const db = new Database(path)
  try {
    db.pragma('locking_mode = EXCLUSIVE')
    // The first write takes the exclusive lock; in EXCLUSIVE locking mode it is kept until the connection closes.
    db.exec(`CREATE TABLE IF NOT EXISTS holder (pid INTEGER); BEGIN EXCLUSIVE; DELETE FROM holder; INSERT INTO holder VALUES (${process.pid}); COMMIT`)
    return db
  } catch (err) {
    db.close()
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return undefined
    throw err
  }
}
