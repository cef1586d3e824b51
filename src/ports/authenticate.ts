import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * How a request becomes a user: resolves with the user's name, or undefined for a 401. jobcast's default reads a
 * bearer token or its session cookie; a host application passes its own (its session, its JWT…).
 */
export type Authenticate = (request: FastifyRequest, reply: FastifyReply) => Promise<string | undefined>
