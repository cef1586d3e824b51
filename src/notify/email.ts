// Email notifications through SMTP (nodemailer), with a plain-text summary of what ended.

import type { Transporter } from 'nodemailer'

/** What a notification tells about a job or a batch that ended. */
export interface EndSummary {
  kind: 'job' | 'batch'
  id: string
  type: string
  /** completed, failed or canceled (a job); done (a batch). */
  state: string
  finishedAt: string
  /** Where to see it, absolute when the server knows its public address. */
  url?: string
  /** A batch's counts. */
  counts?: { total: number, completed: number, failed: number, canceled: number }
  /** A failed job's error. */
  error?: { code: string, message: string } | null
}

/** A sent message's id as the SMTP server accepted it. */
export interface SentEmail { messageId: string }

/** Sends notification emails. */
export interface Mailer {
  send (to: string, summary: EndSummary): Promise<SentEmail>
  close (): void
}

/** A mailer over `smtpUrl` (`smtp://user:pass@host:587`, `smtps://…` for TLS), sending from `from`. */
export function createMailer (options: { smtpUrl: string, from: string, timeoutMs?: number }): Mailer {
  const timeout = options.timeoutMs ?? 15_000
  const url = new URL(options.smtpUrl)
  // Loaded only by a server that sends email: nodemailer is ~14 MiB of a process's memory.
  const transport: Promise<Transporter> = import('nodemailer').then(({ default: nodemailer }) => nodemailer.createTransport({
    host: url.hostname,
    port: url.port === '' ? undefined : Number(url.port),
    secure: url.protocol === 'smtps:',
    auth: url.username === '' ? undefined : { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) },
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout
  }))
  return {
    async send (to, summary) {
      const info = await (await transport).sendMail({ from: options.from, to, subject: emailSubject(summary), text: emailText(summary) })
      return { messageId: info.messageId }
    },
    close () { void transport.then((t) => { t.close() }) }
  }
}

/** One line: what ended and how. */
export function emailSubject (s: EndSummary): string {
  if (s.kind === 'batch' && s.counts !== undefined) {
    const { total, completed, failed, canceled } = s.counts
    return `jobcast: batch ${s.type} finished: ${completed} of ${total} completed${failed > 0 ? `, ${failed} failed` : ''}${canceled > 0 ? `, ${canceled} canceled` : ''}`
  }
  return `jobcast: ${s.kind} ${s.type} ${s.state}`
}

/** The plain-text body: the facts, one per line, and where to see more. */
export function emailText (s: EndSummary): string {
  const lines = [`${s.kind === 'batch' ? 'Batch' : 'Job'} ${s.id} (${s.type}) ended: ${s.state}.`, `Finished at: ${s.finishedAt}`]
  if (s.counts !== undefined) {
    lines.push(`Files: ${s.counts.total}`, `Completed: ${s.counts.completed}`, `Failed: ${s.counts.failed}`, `Canceled: ${s.counts.canceled}`)
  }
  if (s.error != null) lines.push(`Error: ${s.error.code}: ${s.error.message}`)
  if (s.url !== undefined) lines.push('', `Details: ${s.url}`)
  return lines.join('\n') + '\n'
}
