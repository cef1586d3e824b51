import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { test } from 'tap'
import { createMailer, type EndSummary } from '../../src/notify/index.ts'

test('an email with a plain-text summary reaches a local SMTP receiver', async (t) => {
  const messages: Array<{ from: string, to: string[], raw: string }> = []
  let onMessage: () => void = () => {}
  const arrived = new Promise<void>((resolve) => { onMessage = resolve })
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData (stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString()
        })
        callback()
        onMessage()
      })
    }
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => { await new Promise<void>((resolve) => { server.close(() => { resolve() }) }) })
  const port = (server.server.address() as AddressInfo).port

  const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from: 'jobcast <jobcast@example.test>' })
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
  await Promise.race([arrived, new Promise((_resolve, reject) => setTimeout(() => { reject(new Error('no message within 10 s')) }, 10_000).unref())])

  t.equal(messages.length, 1)
  const [message] = messages
  t.equal(message!.from, 'jobcast@example.test')
  t.same(message!.to, ['ana@example.test'])
  t.match(message!.raw, /^Subject: jobcast: batch documents finished: 48 of 51 completed, 3 failed$/m)
  t.match(message!.raw, /^Content-Type: text\/plain/m)
  for (const line of ['Batch b_01HX (documents) ended: done.', 'Files: 51', 'Completed: 48', 'Failed: 3', 'Details: https://jobs.example.test/api/batches/b_01HX']) {
    t.ok(message!.raw.includes(line), line)
  }
})
