// A job type is one file: `jobcast serve --jobs examples/jobs` loads it (and every other file of the folder).
// Try it: curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
//   -d '{"texts": ["the cat sat", "the cat ran"], "top": 2}' http://127.0.0.1:3000/api/jobs/word-count
import { setImmediate } from 'node:timers/promises'
import { Type } from 'typebox'
import { defineJob } from 'jobcast'

export default defineJob({
  type: 'word-count',
  description: 'Counts the words of each text and returns the most frequent ones.',
  input: Type.Object({
    texts: Type.Array(Type.String({ maxLength: 1_000_000 }), { minItems: 1, maxItems: 1000, description: 'Texts to count.' }),
    top: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 5, description: 'How many of the most frequent words to return.' }))
  }, { additionalProperties: false }),
  async run (ctx) {
    const { texts } = ctx.input
    const counts = new Map()
    let words = 0
    for (const [index, text] of texts.entries()) {
      for (const word of text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []) {
        counts.set(word, (counts.get(word) ?? 0) + 1)
        words++
      }
      ctx.progress({ current: index + 1, total: texts.length, message: `text ${index + 1} of ${texts.length}` })
      // Give the event loop a turn between texts, so a cancel (ctx.signal) lands before the next one.
      await setImmediate(undefined, { signal: ctx.signal })
    }
    const top = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, ctx.input.top ?? 5)
    return { texts: texts.length, words, distinct: counts.size, top: top.map(([word, count]) => ({ word, count })) }
  }
})
