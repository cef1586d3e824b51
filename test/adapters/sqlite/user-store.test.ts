import { test } from 'tap'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { MIGRATIONS, openDatabase } from '../../../src/adapters/sqlite/database.ts'
import { hashSecret, MIN_TOKEN_LENGTH, SqliteUserStore } from '../../../src/adapters/sqlite/sqlite-user-store.ts'
import { tempDataDir, type Teardown } from '../../helper.ts'

/** A user store on a fresh data folder, closed on teardown. */
function freshStore (t: Teardown): { store: SqliteUserStore, dataDir: string } {
  const dataDir = tempDataDir(t)
  const store = SqliteUserStore.open(dataDir)
  t.teardown(async () => { await store.close() })
  return { store, dataDir }
}

test('a generated token is 32 random bytes, resolves to its user, and is stored only as its SHA-256', async (t) => {
  const { store, dataDir } = freshStore(t)
  const token = await store.grantToken('alice')
  t.match(token, /^[A-Za-z0-9_-]{43}$/, '32 bytes in base64url')
  t.not(await store.grantToken('alice'), token, 'each grant is a new token')
  t.equal(await store.userForToken(token), 'alice')
  t.equal(await store.userForToken(`${token}x`), undefined)
  t.equal(await store.count(), 1)

  const db = openDatabase(dataDir)
  t.teardown(() => { db.close() })
  const hashes = db.prepare('SELECT hash FROM tokens').pluck().all() as string[]
  t.ok(hashes.includes(hashSecret(token)))
  t.equal(hashSecret(token), hashSecret(token).toLowerCase())
  t.match(hashSecret(token), /^[0-9a-f]{64}$/)
  t.notOk(hashes.some((hash) => hash.includes(token)), 'the clear token is nowhere in the table')
})

test('a token under 16 characters is refused with TOKEN_TOO_SHORT, by grantToken and by setTokens', async (t) => {
  const { store } = freshStore(t)
  const short = 'x'.repeat(MIN_TOKEN_LENGTH - 1)
  await t.rejects(store.grantToken('alice', short), { code: 'TOKEN_TOO_SHORT', message: /16 or more characters/ })
  await t.rejects(store.setTokens('alice', ['a-long-enough-token-1', short]), { code: 'TOKEN_TOO_SHORT' })
  t.equal(await store.count(), 0, 'nothing was written')
  t.equal(await store.grantToken('alice', 'x'.repeat(MIN_TOKEN_LENGTH)), 'x'.repeat(MIN_TOKEN_LENGTH), '16 is enough')
})

test('setTokens makes the given tokens the whole set of that user, and leaves other users alone', async (t) => {
  const { store } = freshStore(t)
  const old = await store.grantToken('alice')
  const bobs = await store.grantToken('bob')
  await store.setTokens('alice', ['alice-token-number-1', 'alice-token-number-2'])
  t.equal(await store.userForToken(old), undefined, 'a token left out of the set stops working')
  t.equal(await store.userForToken('alice-token-number-1'), 'alice')
  t.equal(await store.userForToken('alice-token-number-2'), 'alice')
  t.equal(await store.userForToken(bobs), 'bob')
  await store.setTokens('alice', ['alice-token-number-2'])
  t.equal(await store.userForToken('alice-token-number-1'), undefined, 'a rotated token stops working')
  t.same((await store.listUsers()).map((u) => [u.name, u.tokens]), [['alice', 1], ['bob', 1]])
})

test('revoke ends every token and session of one user at once; the user stays, listed with no tokens', async (t) => {
  const { store } = freshStore(t)
  const a1 = await store.grantToken('alice')
  const a2 = await store.grantToken('alice')
  const b = await store.grantToken('bob')
  const aliceSession = await store.createSession('alice', 60_000)
  const bobSession = await store.createSession('bob', 60_000)

  t.equal(await store.revoke('alice'), 2, 'resolves with the tokens revoked')
  t.equal(await store.userForToken(a1), undefined)
  t.equal(await store.userForToken(a2), undefined)
  t.equal(await store.userForSession(aliceSession), undefined, 'her sessions end too')
  t.equal(await store.userForToken(b), 'bob', 'another user keeps his token')
  t.equal(await store.userForSession(bobSession), 'bob', 'and his session')
  t.equal(await store.revoke('alice'), 0, 'a second revoke finds nothing')
  const users = await store.listUsers()
  t.same(users.map((u) => ({ name: u.name, tokens: u.tokens })), [{ name: 'alice', tokens: 0 }, { name: 'bob', tokens: 1 }])
  t.ok(users.every((u) => typeof u.createdAt === 'number' && u.createdAt > 0))
})

test('sessions expire: an expired one authenticates no one and purgeSessions deletes only those', async (t) => {
  const { store, dataDir } = freshStore(t)
  await store.grantToken('alice')
  const live = await store.createSession('alice', 60_000)
  const expired = await store.createSession('alice', -1)
  t.match(live, /^[A-Za-z0-9_-]{43}$/)
  t.equal(await store.userForSession(live), 'alice')
  t.equal(await store.userForSession(expired), undefined, 'past its expiry a session is no session')

  t.equal(await store.purgeSessions(Date.now()), 1)
  const db = openDatabase(dataDir)
  t.teardown(() => { db.close() })
  t.same(db.prepare('SELECT hash FROM sessions').pluck().all(), [hashSecret(live)], 'the live one is kept, hashed')
  t.equal(await store.purgeSessions(Date.now() + 120_000), 1, 'a later purge takes the rest')

  const again = await store.createSession('alice', 60_000)
  await store.deleteSession(again)
  t.equal(await store.userForSession(again), undefined, 'a deleted session ends')
})

test('close is safe to call twice', async (t) => {
  const store = SqliteUserStore.open(tempDataDir(t))
  await store.close()
  await store.close()
  await t.rejects(store.count(), 'a closed store answers no more')
})

test('a data folder of schema version 2 gets the user indexes of version 3 and keeps its users', async (t) => {
  const dataDir = tempDataDir(t)
  // A file as version 2 made it: the first two migrations only.
  const old = new Database(join(dataDir, 'jobcast.db'))
  for (const migration of MIGRATIONS.slice(0, 2)) old.exec(migration)
  old.pragma('user_version = 2')
  const token = 'token-from-version-2'
  old.prepare('INSERT INTO users (name, created_at) VALUES (?, ?)').run('alice', Date.now())
  old.prepare('INSERT INTO tokens (hash, user_name, created_at) VALUES (?, ?, ?)').run(hashSecret(token), 'alice', Date.now())
  old.close()

  const reopened = openDatabase(dataDir)
  t.teardown(() => { reopened.close() })
  t.equal(reopened.pragma('user_version', { simple: true }), MIGRATIONS.length)
  const indexes = reopened.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('tokens_user', 'sessions_user', 'sessions_expiry') ORDER BY name").pluck().all()
  t.same(indexes, ['sessions_expiry', 'sessions_user', 'tokens_user'])
  const store = new SqliteUserStore(reopened)
  t.equal(await store.userForToken(token), 'alice')
})
