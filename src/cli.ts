import { loadConfig } from './config.ts'
import { openDatabase } from './adapters/sqlite/database.ts'
import { SqliteUserStore } from './adapters/sqlite/sqlite-user-store.ts'

const USAGE = `usage: jobcast token create <user>   create a token for <user> (the user is created if new) and print it once

Uses JOBCAST_DATA_DIR (default ./data), like the server.`

/** The `jobcast` command: administrative tasks on a data folder. */
export async function main (args: string[]): Promise<number> {
  const [group, action, user] = args
  if (group === 'token' && action === 'create' && user !== undefined && /^[A-Za-z0-9_.-]{1,64}$/.test(user)) {
    const db = openDatabase(loadConfig().dataDir)
    try {
      const token = await new SqliteUserStore(db).grantToken(user)
      process.stdout.write(`${token}\n`)
      process.stderr.write(`token created for "${user}"; it is shown only now. Use it as: Authorization: Bearer ${token}\n`)
      return 0
    } finally {
      db.close()
    }
  }
  process.stderr.write(`${USAGE}\n`)
  return 2
}

process.exitCode = await main(process.argv.slice(2))
