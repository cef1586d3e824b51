// What a node keeps of values any node may change (token users, notify defaults): a change resolves only once no
// node can answer from its copy any more, as the ports promise for every write.
import t, { type Test } from 'tap'
import { PgDatabase } from '../../../src/adapters/postgres/database.ts'
import { PgJobStore } from '../../../src/adapters/postgres/pg-job-store.ts'
import { PgUserStore } from '../../../src/adapters/postgres/pg-user-store.ts'
import { createTestDatabase } from './test-database.ts'

const TOKEN = 'a-token-of-alice-0123456789'
const NEW_TOKEN = 'a-new-token-of-alice-0123456789'

interface Node { users: PgUserStore, jobs: PgJobStore, db: PgDatabase }

// Two nodes on one fresh database, each with its own pool, user and job store.
async function twoNodes (t: Test): Promise<[Node, Node]> {
  const database = await createTestDatabase()
  const open = async (): Promise<Node> => {
    const db = await PgDatabase.open(database.url, { max: 3 })
    const node = { users: new PgUserStore(db), jobs: new PgJobStore(db), db }
    t.teardown(async () => {
      await Promise.all([node.users.close(), node.jobs.close()])
      await db.close()
    })
    return node
  }
  const nodes: [Node, Node] = [await open(), await open()]
  t.teardown(async () => { await database.drop() })
  return nodes
}

// Counts the statements `node` sends meanwhile whose text contains `marker`.
function countQueries (t: Test, node: Node, marker: string): () => number {
  let n = 0
  const query = node.db.pool.query.bind(node.db.pool)
  node.db.pool.query = ((text: unknown, ...rest: unknown[]) => {
    if (typeof text === 'string' && text.includes(marker)) n++
    return (query as (...args: unknown[]) => unknown)(text, ...rest)
  }) as typeof node.db.pool.query
  t.teardown(() => { node.db.pool.query = query })
  return () => n
}

t.test('token look-ups are answered from the node\'s copy; a revoke resolves only once the other node\'s copy is gone', async (t) => {
  const [a, b] = await twoNodes(t)
  await a.users.grantToken('alice', TOKEN)
  const lookups = countQueries(t, b, 'FROM jobcast.tokens WHERE hash')
  t.equal(await b.users.userForToken(TOKEN), 'alice')
  t.equal(await b.users.userForToken(TOKEN), 'alice')
  t.equal(lookups(), 1, 'the second look-up on b needed no query')
  t.equal(await a.users.revoke('alice'), 1)
  t.equal(await b.users.userForToken(TOKEN), undefined, 'on the other node, as soon as revoke resolved')
  t.equal(await a.users.userForToken(TOKEN), undefined)
})

t.test('a rotated token: the old one stops on the other node when the change resolves; a new one works there at once', async (t) => {
  const [a, b] = await twoNodes(t)
  await a.users.setTokens('alice', [TOKEN])
  t.equal(await b.users.userForToken(TOKEN), 'alice')
  t.equal(await b.users.userForToken(NEW_TOKEN), undefined, 'not granted yet (and not kept as unknown)')
  await a.users.setTokens('alice', [NEW_TOKEN])
  t.equal(await b.users.userForToken(NEW_TOKEN), 'alice', 'the new token')
  t.equal(await b.users.userForToken(TOKEN), undefined, 'the old token, once the change resolved')
})

t.test('an unchanged set of tokens (every start sets the configured ones) resolves without waiting out the copies', async (t) => {
  const [a] = await twoNodes(t)
  await a.users.setTokens('alice', [TOKEN])
  const started = performance.now()
  for (let i = 0; i < 3; i++) await a.users.setTokens('alice', [TOKEN])
  // Waiting out the copies is a second each: three would take three seconds.
  const ms = performance.now() - started
  t.ok(ms < 1000, `three unchanged sets took ${ms.toFixed(0)} ms`)
})

t.test('notify defaults set on one node are what the other reads once the change resolves, though it kept the old ones', async (t) => {
  const [a, b] = await twoNodes(t)
  const reads = countQueries(t, b, 'FROM jobcast.notify_defaults')
  t.equal(await b.jobs.notifyDefaults('alice'), null, 'none yet')
  t.equal(await b.jobs.notifyDefaults('alice'), null)
  t.equal(reads(), 1, 'the second read on b needed no query')
  await a.jobs.setNotifyDefaults('alice', { email: 'alice@example.com' })
  t.same(await b.jobs.notifyDefaults('alice'), { email: 'alice@example.com' })
  await a.jobs.setNotifyDefaults('alice', null)
  t.equal(await b.jobs.notifyDefaults('alice'), null, 'cleared')
})
