import { PermanentError, RetryableError, type JobcastError } from '../errors.ts'
import { parseRetryAfter } from './retry.ts'

/**
 * The error to throw for an HTTP response that failed: 429, 503 and other 5xx are retryable (honoring
 * `Retry-After`), other statuses fail the job at once. The code is `HTTP_<status>`.
 */
export function responseError (response: Pick<Response, 'status' | 'statusText' | 'headers'>, what = 'request'): JobcastError {
  const code = `HTTP_${response.status}`
  const message = `${what} answered ${response.status} ${response.statusText}`.trim()
  if (response.status === 429 || response.status >= 500) {
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'))
    return new RetryableError(message, { code, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) })
  }
  return new PermanentError(code, message)
}
