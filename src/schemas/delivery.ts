import { Type } from 'typebox'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])

/** One notification of a job or batch, with every attempt made. */
export const DeliverySchema = Type.Object({
  id: Type.String({ description: 'the webhook-id: the same on every attempt' }),
  subjectKind: Type.Union([Type.Literal('job'), Type.Literal('batch')]),
  subjectId: Type.String(),
  channel: Type.Union([Type.Literal('webhook'), Type.Literal('email')]),
  target: Type.String(),
  state: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed'), Type.Literal('disabled')]),
  nextAt: Nullable(Type.Number()),
  attempts: Type.Array(Type.Object({
    number: Type.Integer(),
    at: Type.String({ format: 'date-time' }),
    status: Nullable(Type.Integer()),
    error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
    durationMs: Type.Number(),
    retryAfterMs: Nullable(Type.Number())
  }))
})

/** Where to tell that a job or batch ended: a start's `notify`, or a user's defaults (`{}`: nowhere). */
export const NotifyTargetsSchema = Type.Object({
  webhook: Type.Optional(Type.String({ description: 'http(s) URL; signed per Standard Webhooks with the user\'s secret' })),
  email: Type.Optional(Type.String({ description: 'an email address (needs JOBCAST_SMTP_URL)' }))
})
