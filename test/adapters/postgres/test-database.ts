import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** The server the tests use: PostgreSQL on loopback, trust auth (JOBCAST_TEST_PG_URL overrides). */
export const SERVER_URL = process.env.JOBCAST_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** A database of its own for one test: created empty, dropped (with any connection left on it) by `drop`. */
export async function createTestDatabase (): Promise<{ url: string, name: string, drop: () => Promise<void> }> {
  const name = `jobcast_test_${randomBytes(6).toString('hex')}`
  await admin(`CREATE DATABASE ${name}`)
  const url = new URL(SERVER_URL)
  url.pathname = `/${name}`
  let dropped: Promise<void> | undefined
  return {
    url: url.toString(),
    name,
    drop: async () => { dropped ??= admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => {}); await dropped }
  }
}

/** Runs one statement on the server's maintenance database. */
export async function admin (sql: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: SERVER_URL })
  await client.connect()
  try {
    return await client.query(sql, values)
  } finally {
    await client.end()
  }
}
