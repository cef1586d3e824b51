import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** The server the tests use: PostgreSQL on loopback, trust auth (JOBCAST_TEST_PG_URL overrides). */
export const SERVER_URL = process.env.JOBCAST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/**
 * A database of its own for one test: created empty, dropped (with any connection left on it) by `drop`. On the
 * shared server unless `serverUrl` names another (a private one).
 */
export async function createTestDatabase (serverUrl = SERVER_URL): Promise<{ url: string, name: string, drop: () => Promise<void> }> {
  const name = `jobcast_test_${randomBytes(6).toString('hex')}`
  await admin(`CREATE DATABASE ${name}`, [], serverUrl)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  let dropped: Promise<void> | undefined
  return {
    url: url.toString(),
    name,
    drop: async () => { dropped ??= admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, [], serverUrl).then(() => {}); await dropped }
  }
}

/** Runs one statement on the server's maintenance database (the shared server's unless `serverUrl` is given). */
export async function admin (sql: string, values: unknown[] = [], serverUrl = SERVER_URL): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    return await client.query(sql, values)
  } finally {
    await client.end()
  }
}
