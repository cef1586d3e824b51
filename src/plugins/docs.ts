import fp from 'fastify-plugin'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'

/** OpenAPI from the route schemas: the document at /docs/json, a browsable UI at /docs. Register before the routes. */
export default fp(async (fastify) => {
  await fastify.register(fastifySwagger, {
    openapi: {
      info: { title: 'jobcast', description: 'Start long-running jobs over HTTP and watch them live over Server-Sent Events.', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: 'jobcast_session' } } },
      security: [{ bearer: [] }, { session: [] }]
    }
  })
  await fastify.register(fastifySwaggerUi, { routePrefix: '/docs' })
}, { name: 'docs' })
