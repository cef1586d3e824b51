import { test } from 'tap'
import { SseParser, type SseItem } from './sse-client.ts'

// The test client's parser must be right for the stream tests to mean anything.
test('the test SSE parser: fields, comments, retry, multi-line data, any chunking and line ending', async (t) => {
  const wire = 'retry: 2500\n\n: hello\n\nid: e-1\nevent: queued\ndata: {"a":1}\n\ndata: one\ndata: two\n\nid: e-2\nevent: x\nretry: nope\ndata:no-space\n\n'
  const expected: SseItem[] = [
    { type: 'retry', ms: 2500 },
    { type: 'comment', text: 'hello' },
    { type: 'event', event: { id: 'e-1', event: 'queued', data: '{"a":1}' } },
    { type: 'event', event: { id: undefined, event: 'message', data: 'one\ntwo' } },
    { type: 'event', event: { id: 'e-2', event: 'x', data: 'no-space' } }
  ]
  for (const ending of ['\n', '\r\n', '\r']) {
    const text = wire.replaceAll('\n', ending)
    for (const size of [1, 2, 3, 7, text.length]) {
      const items: SseItem[] = []
      const parser = new SseParser((item) => { items.push(item) })
      for (let i = 0; i < text.length; i += size) parser.push(text.slice(i, i + size))
      t.same(items, expected, `${JSON.stringify(ending)} endings, chunks of ${size}`)
    }
  }
  const items: SseItem[] = []
  const parser = new SseParser((item) => { items.push(item) })
  parser.push('event: half\ndata: x\n')
  t.same(items, [], 'no event before the blank line')
})
