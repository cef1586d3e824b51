// A local SMTP server for the email tests: it accepts every message and records who sent it to whom.
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'
import { deferred, type Teardown } from '../helper.ts'

/** One message as the receiver got it. */
export interface ReceivedMail { from: string, to: string[], raw: string }

/** A receiver on a free loopback port: its URL, every message so far, and the first one. Closed on teardown. */
export async function smtpReceiver (t: Teardown): Promise<{ url: string, messages: ReceivedMail[], first: Promise<ReceivedMail> }> {
  const messages: ReceivedMail[] = []
  const first = deferred<ReceivedMail>()
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData (stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const mail = {
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString()
        }
        messages.push(mail)
        callback()
        first.resolve(mail)
      })
    }
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => { await new Promise<void>((resolve) => { server.close(() => { resolve() }) }) })
  return { url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`, messages, first: first.promise }
}
