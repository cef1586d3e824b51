import type { IncomingMessage } from 'node:http'
import secureJson from 'secure-json-parse'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ClientError, JobcastError } from '../errors.ts'
import { jsonTooDeep } from '../lib/json-depth.ts'
import { formatBytes } from '../uploads/receive-upload.ts'

/** Limits on what a request body may be. */
export interface BodyLimits {
  maxInputBytes: number
  maxJsonDepth: number
  /** A body that sends nothing for this long ends with 408, in ms. */
  idleMs: number
}

/** The 400 of JSON nested deeper than the limit. */
export function tooDeep (maxDepth: number): ClientError {
  return new ClientError(400, 'INPUT_TOO_DEEP', `the JSON nests arrays and objects deeper than ${maxDepth} levels, the most allowed (JOBCAST_MAX_JSON_DEPTH)`)
}

/** The 413 of a body (or `input` field) larger than the limit. */
export function tooLarge (maxBytes: number): ClientError {
  return new ClientError(413, 'INPUT_TOO_LARGE', `the input is larger than ${formatBytes(maxBytes)}, the most allowed (JOBCAST_MAX_INPUT_BYTES); send large data as a file`)
}

/**
 * Request bodies in jobcast's scope: JSON within the size and depth limits, no Content-Encoding (415), and an idle
 * timer on every body (an upload that drips nothing ends with 408). {@link BodyGuard.drain} lets the bodies still
 * arriving at shutdown finish within a grace period, then aborts them (their uploads leave nothing).
 */
export class BodyGuard {
  readonly #limits: BodyLimits
  readonly #open = new Set<IncomingMessage>()
  readonly #ended = new Set<() => void>()

  constructor (limits: BodyLimits) {
    this.#limits = limits
  }

  /** Installs the parser and hooks in `scope`. */
  install (scope: FastifyInstance): void {
    const { maxInputBytes, maxJsonDepth } = this.#limits
    scope.removeContentTypeParser('application/json')
    scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: maxInputBytes }, (_request, body, done) => {
      const text = body as string
      if (text === '') return done(null, undefined)
      if (jsonTooDeep(text, maxJsonDepth)) return done(tooDeep(maxJsonDepth))
      try {
        done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }))
      } catch (err) {
        done(new ClientError(400, 'INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`))
      }
    })
    scope.addHook('onRequest', async (request) => {
      const encoding = request.headers['content-encoding']
      if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
        throw new ClientError(415, 'UNSUPPORTED_CONTENT_ENCODING', `Content-Encoding "${encoding}" is not supported; send the body uncompressed`)
      }
      if (hasBody(request)) this.#watch(request.raw)
    })
  }

  // Arms the idle timer of a body until it has arrived (or the request is gone).
  #watch (raw: IncomingMessage): void {
    const socket = raw.socket
    // An injected request (light-my-request) has no real socket, and nothing to wait for.
    if (typeof socket?.setTimeout !== 'function') return
    const previous = socket.timeout ?? 0
    const onIdle = (): void => { abortBody(raw, new ClientError(408, 'REQUEST_IDLE', `the request body sent nothing for ${this.#limits.idleMs} ms; send it again`)) }
    const done = (): void => {
      raw.off('timeout', onIdle)
      raw.off('end', done)
      raw.off('close', done)
      if (!socket.destroyed) socket.setTimeout(previous)
      this.#open.delete(raw)
      if (this.#open.size === 0) for (const resolve of this.#ended) resolve()
    }
    // A listener on the request's 'timeout' keeps Node from destroying the socket: the 408 can still be sent.
    raw.on('timeout', onIdle)
    raw.once('end', done)
    raw.once('close', done)
    socket.setTimeout(this.#limits.idleMs)
    this.#open.add(raw)
  }

  /** Waits up to `graceMs` for the bodies still arriving, then aborts them with 503 SHUTTING_DOWN. */
  async drain (graceMs: number): Promise<void> {
    if (this.#open.size === 0) return
    let timer: NodeJS.Timeout | undefined
    let resolveEnded!: () => void
    const ended = new Promise<void>((resolve) => { resolveEnded = resolve })
    this.#ended.add(resolveEnded)
    await Promise.race([ended, new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs) })])
    clearTimeout(timer)
    this.#ended.delete(resolveEnded)
    for (const raw of this.#open) abortBody(raw, new JobcastError('SHUTTING_DOWN', 'the server is shutting down; send the upload again in a moment', 503))
  }
}

// Whether the request carries a body still to be read.
function hasBody (request: FastifyRequest): boolean {
  const length = request.headers['content-length']
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

// Fails whoever reads the body (Fastify's body reader, the multipart parser) with `err`; with no reader, the socket goes.
function abortBody (raw: IncomingMessage, err: Error): void {
  if (raw.complete || raw.destroyed) return
  if (raw.listenerCount('error') > 0) raw.emit('error', err)
  else raw.destroy()
}
