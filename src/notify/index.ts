// Notifications when a job or batch ends: Standard Webhooks (signed, retried, SSRF-safe) and email.

export { deliverWebhook, DELIVERY_TIMEOUT_MS, type DeliveryAttempt, type DeliveryTransport, type WebhookMessage } from './deliver-webhook.ts'
export { createMailer, emailSubject, emailText, type EndSummary, type Mailer, type SentEmail } from './email.ts'
export { MAX_RETRY_AFTER_MS, nextStep, parseRetryAfter, RETRY_SCHEDULE_MS, type NextStep } from './retry-schedule.ts'
export { generateWebhookSecret, secretKey, signWebhook, verifyWebhookSignature, webhookHeaders, type WebhookHeaders } from './signature.ts'
export { sendWebhook, type DeliveryState, type SendOptions } from './webhook-sender.ts'
