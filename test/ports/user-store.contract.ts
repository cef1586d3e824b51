// The UserStore contract: the same cases against every adapter, through the port only.
import type { Test } from 'tap'
import type { UserStore } from '../../src/ports/user-store.ts'

/** A fresh, empty user store for one case. */
export interface UserStoreHarness {
  users: UserStore
  /** Releases the store (closing `users` first). */
  cleanup: () => Promise<void>
  /** Everything the storage holds, as text (absent: the hashing case is skipped). */
  dump?: () => Promise<string>
}

/** Opens a fresh, empty user store. */
export type UserStoreFactory = () => Promise<UserStoreHarness>

const HOUR = 3600_000

/** Runs the UserStore contract cases against the stores `factory` opens. */
export function userStoreContract (t: Test, factory: UserStoreFactory): void {
  async function open (t: Test): Promise<UserStoreHarness> {
    const harness = await factory()
    t.teardown(harness.cleanup)
    return harness
  }

  t.test('grantToken and userForToken', async (t) => {
    const { users } = await open(t)
    t.equal(await users.count(), 0)
    const random = await users.grantToken('alice')
    t.ok(random.length >= 20, 'a new random token')
    t.equal(await users.grantToken('alice', 'alice-chosen-token'), 'alice-chosen-token')
    await users.grantToken('bob', 'bob-token-000001')
    t.equal(await users.userForToken(random), 'alice')
    t.equal(await users.userForToken('alice-chosen-token'), 'alice')
    t.equal(await users.userForToken('bob-token-000001'), 'bob')
    t.equal(await users.userForToken('nobody-has-this'), undefined)
    t.equal(await users.count(), 2)
  })

  t.test('setTokens makes the set the user\'s whole set', async (t) => {
    const { users } = await open(t)
    await users.grantToken('alice', 'old-token-000001')
    await users.grantToken('bob', 'bob-token-000001')
    await users.setTokens('alice', ['new-token-000001', 'new-token-000002'])
    t.equal(await users.userForToken('old-token-000001'), undefined, 'a removed token stops working')
    t.equal(await users.userForToken('new-token-000001'), 'alice')
    t.equal(await users.userForToken('new-token-000002'), 'alice')
    t.equal(await users.userForToken('bob-token-000001'), 'bob', 'other users keep theirs')
    await users.setTokens('carol', ['carol-token-00001'])
    t.equal(await users.userForToken('carol-token-00001'), 'carol', 'a new user is created')
  })

  t.test('revoke ends every token and session of the user at once', async (t) => {
    const { users } = await open(t)
    const one = await users.grantToken('alice')
    const two = await users.grantToken('alice')
    const session = await users.createSession('alice', HOUR)
    const bobs = await users.grantToken('bob')
    const bobSession = await users.createSession('bob', HOUR)
    t.equal(await users.revoke('alice'), 2)
    t.equal(await users.userForToken(one), undefined)
    t.equal(await users.userForToken(two), undefined)
    t.equal(await users.userForSession(session), undefined, 'the session ends with the tokens')
    t.equal(await users.userForToken(bobs), 'bob')
    t.equal(await users.userForSession(bobSession), 'bob')
    t.equal(await users.revoke('nobody'), 0)
  })

  t.test('sessions: open, look up, delete, expire and purge', async (t) => {
    const { users } = await open(t)
    await users.grantToken('alice')
    const live = await users.createSession('alice', HOUR)
    const ended = await users.createSession('alice', HOUR)
    const expired = await users.createSession('alice', -1)
    t.not(live, ended, 'each session has its own id')
    t.equal(await users.userForSession(live), 'alice')
    t.equal(await users.userForSession(expired), undefined, 'an expired session is no session')
    await users.deleteSession(ended)
    t.equal(await users.userForSession(ended), undefined)
    t.equal(await users.userForSession('no-such-session'), undefined)
    t.equal(await users.purgeSessions(Date.now()), 1, 'the expired one')
    t.equal(await users.userForSession(live), 'alice', 'purging leaves live sessions')
    t.equal(await users.purgeSessions(Date.now() + 2 * HOUR), 1, 'expired by then')
    t.equal(await users.userForSession(live), undefined)
  })

  t.test('listUsers: names, token counts, creation times', async (t) => {
    const { users } = await open(t)
    const before = Date.now()
    await users.grantToken('bob')
    await users.grantToken('alice')
    await users.grantToken('alice')
    const list = await users.listUsers()
    t.same(list.map((u) => [u.name, u.tokens]), [['alice', 2], ['bob', 1]])
    t.ok(list.every((u) => u.createdAt >= before - 1000 && u.createdAt <= Date.now() + 1000), 'created now')
    await users.revoke('bob')
    t.same((await users.listUsers()).map((u) => [u.name, u.tokens]), [['alice', 2], ['bob', 0]], 'a revoked user is listed with no tokens')
  })

  t.test('secrets are stored hashed', async (t) => {
    const harness = await open(t)
    if (harness.dump === undefined) { t.pass('skipped: the adapter cannot dump its storage'); return }
    const token = await harness.users.grantToken('alice')
    await harness.users.setTokens('bob', ['bob-configured-token-1'])
    const session = await harness.users.createSession('alice', HOUR)
    const dump = await harness.dump()
    t.ok(dump.includes('alice'), 'the dump shows the stored rows')
    for (const secret of [token, 'bob-configured-token-1', session]) t.notOk(dump.includes(secret), 'no secret in clear')
  })

  t.test('close (twice)', async (t) => {
    const { users } = await open(t)
    await users.close()
    await users.close()
    t.pass('closed twice')
  })
}
