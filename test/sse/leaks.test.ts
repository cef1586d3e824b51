import type { MemoryJobEvents } from '../../src/adapters/memory/memory-job-events.ts'
import { setImmediate } from 'node:timers/promises'
import { test } from 'tap'
import { AUTH, build } from '../helper.ts'
import { activeResources, connections, listen, liveResources, trackServerSockets } from './fixtures.ts'
import { openSse, type SseClient } from './sse-client.ts'

const STREAMS = 200
const ROUNDS = 3

async function openMany (url: string, count: number, user: keyof typeof AUTH): Promise<SseClient[]> {
  return await Promise.all(Array.from({ length: count }, async () => {
    const client = await openSse(url, { headers: AUTH[user] })
    await client.next((e) => e.event === 'snapshot')
    return client
  }))
}

test(`${STREAMS} streams opened and dropped ${ROUNDS} times leave no listener, timer or socket behind`, async (t) => {
  const app = await build(t, { heartbeatMs: 1000 })
  const base = await listen(app)
  const sockets = trackServerSockets(app)
  // One round first, so that lazily created things (channels, caches) exist before counting.
  for (const client of await openMany(`${base}/api/events`, 10, 'alice')) await client.close()
  await sockets.allClosed()

  const busListeners = (app.jobcast.service.events as MemoryJobEvents).listenerCount
  const before = activeResources()
  // Heartbeat timers are unref'd, so getActiveResourcesInfo() does not list them: count them through async_hooks.
  const live = liveResources(['Timeout', 'TCPWRAP'])
  t.teardown(() => { live.stop() })
  for (let round = 1; round <= ROUNDS; round++) {
    const clients = await openMany(`${base}/api/events`, STREAMS, round % 2 === 0 ? 'bob' : 'alice')
    t.equal(app.jobcast.streams.clientCount, STREAMS, `round ${round}: ${STREAMS} streams open`)
    t.equal(await connections(app), STREAMS)
    t.ok(live.count('Timeout') >= STREAMS, `round ${round}: a heartbeat timer per stream (${live.count('Timeout')} timers)`)
    await Promise.all(clients.map(async (client) => { await client.close() }))
    await sockets.allClosed()
    t.equal(app.jobcast.streams.clientCount, 0, `round ${round}: no stream left in the hub`)
    t.equal(await connections(app), 0, `round ${round}: no connection left`)
    t.equal((app.jobcast.service.events as MemoryJobEvents).listenerCount, busListeners, `round ${round}: bus listeners unchanged`)
    await setImmediate() // async_hooks runs destroy hooks from a queue flushed on a later turn
    // At most one: node:http's own cache of the Date header, a single 1 s timer.
    t.ok(live.count('Timeout') <= 1, `round ${round}: every stream's timer is gone (${live.count('Timeout')} timer left)`)
    t.equal(live.count('TCPWRAP'), 0, `round ${round}: every socket created since the start is gone`)
  }
  const after = activeResources()
  for (const kind of ['Timeout', 'TCPSocketWrap']) {
    t.ok((after[kind] ?? 0) <= (before[kind] ?? 0), `${kind}: ${before[kind] ?? 0} before, ${after[kind] ?? 0} after`)
  }
})

test('app.close() with 100 open streams ends them and resolves', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const clients = await openMany(`${base}/api/events`, 100, 'alice')
  t.teardown(async () => { await Promise.all(clients.map(async (c) => { await c.close() })) })
  t.equal(app.jobcast.streams.clientCount, 100)
  await app.close()
  await Promise.all(clients.map(async (client) => { await client.ended }))
  t.ok(clients.every((client) => client.isEnded), 'every stream ended by the server')
  t.equal(app.jobcast.streams.clientCount, 0)
  t.equal(app.server.listening, false, 'the server stopped listening')
})
