import { test } from 'tap'
import { createMailer, type EndSummary } from '../../src/notify/index.ts'
import { within } from '../ports/fixtures.ts'
import { smtpReceiver } from './smtp-receiver.ts'

test('an email with a plain-text summary reaches a local SMTP receiver', async (t) => {
  const smtp = await smtpReceiver(t)

  const mailer = createMailer({ smtpUrl: smtp.url, from: 'jobcast <jobcast@example.test>' })
  t.teardown(() => { mailer.close() })
  const summary: EndSummary = {
    kind: 'batch',
    id: 'b_01HX',
    type: 'documents',
    state: 'done',
    finishedAt: '2024-03-15T10:30:00.000Z',
    url: 'https://jobs.example.test/api/batches/b_01HX',
    counts: { total: 51, completed: 48, failed: 3, canceled: 0 }
  }
  const sent = await mailer.send('ana@example.test', summary)
  t.match(sent.messageId, /@/)
  await within(smtp.first, 10_000, 'the message')

  t.equal(smtp.messages.length, 1)
  const [message] = smtp.messages
  t.equal(message!.from, 'jobcast@example.test')
  t.same(message!.to, ['ana@example.test'])
  t.match(message!.raw, /^Subject: jobcast: batch documents finished: 48 of 51 completed, 3 failed$/m)
  t.match(message!.raw, /^Content-Type: text\/plain/m)
  for (const line of ['Batch b_01HX (documents) ended: done.', 'Files: 51', 'Completed: 48', 'Failed: 3', 'Details: https://jobs.example.test/api/batches/b_01HX']) {
    t.ok(message!.raw.includes(line), line)
  }
})
