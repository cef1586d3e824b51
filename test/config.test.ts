import { test } from 'tap'
import { loadConfig } from '../src/config.ts'

test('loadConfig: defaults', async (t) => {
  const config = loadConfig({})
  t.match(config, { port: 3000, host: '127.0.0.1', dataDir: './data', tokens: [], concurrency: 16, userConcurrency: 4, retentionDays: 7, logLevel: 'info' })
})

test('loadConfig: values are parsed and typed', async (t) => {
  const config = loadConfig({ PORT: '8080', JOBCAST_CONCURRENCY: '3', JOBCAST_TOKENS: 'alice:token-a-secret-0001, bob.b:1234567890123456', JOBCAST_RETENTION_DAYS: '0.5' })
  t.equal(config.port, 8080)
  t.equal(config.concurrency, 3)
  t.equal(config.retentionDays, 0.5)
  t.same(config.tokens, [{ user: 'alice', token: 'token-a-secret-0001' }, { user: 'bob.b', token: '1234567890123456' }])
})

test('loadConfig: a bad value throws a message naming the variable', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: '-1' }, 'PORT'],
    [{ JOBCAST_CONCURRENCY: '0' }, 'JOBCAST_CONCURRENCY'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ JOBCAST_TOKENS: 'alice' }, 'JOBCAST_TOKENS'],
    [{ JOBCAST_TOKENS: 'alice:short' }, 'JOBCAST_TOKENS'],
    [{ JOBCAST_TOKENS: 'alice:123456789012345' }, 'JOBCAST_TOKENS'],
    [{ JOBCAST_TOKENS: 'alice:token-a-secret-0001,b@d:token-b-secret-0001' }, 'JOBCAST_TOKENS']
  ]
  for (const [env, variable] of cases) {
    t.throws(() => loadConfig(env), { message: new RegExp(`\\b${variable}\\b`) }, JSON.stringify(env))
  }
})
