import fastifyHelmet from '@fastify/helmet'
import fp from 'fastify-plugin'
import { dashboardScriptHash } from '../dashboard/serve-dashboard.ts'

/**
 * Security headers on jobcast's routes (@fastify/helmet), with a Content-Security-Policy that fits what jobcast
 * serves: the dashboard (its modules from 'self', its import map allowed by hash) and the OpenAPI UI at /docs
 * (scripts from 'self', inline styles, data: images). No upgrade-insecure-requests: jobcast is often served over
 * plain HTTP on loopback, where upgrading would break the page.
 */
export default fp(async (fastify) => {
  await fastify.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        scriptSrc: ["'self'", dashboardScriptHash()],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"]
      }
    },
    // Artifacts are downloads and the page links them: same-origin is what they need.
    crossOriginResourcePolicy: { policy: 'same-origin' }
  })
}, { name: 'jobcast-security-headers' })
