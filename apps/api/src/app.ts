import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { Enqueuer, schema, type Broker, type Config, type Logger, type Pool } from '@tickwork/shared';
import { registerAuth } from './auth.js';
import { registerProblemHandlers } from './problem.js';
import { botRoutes } from './routes/bots.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { runRoutes } from './routes/runs.js';
import { scheduleRoutes } from './routes/schedules.js';
import { statusRoutes } from './routes/status.js';
import { taskRoutes } from './routes/tasks.js';
import { Problem } from './schemas/common.js';
import { registerUi } from './ui.js';

export interface AppDeps {
  pool: Pool;
  broker: Broker;
  logger: Logger;
  config: Pick<Config, 'apiToken' | 'amqpUrl' | 'rabbitmqManagementUrl'>;
}

interface Decorations {
  deps: AppDeps & { db: NodePgDatabase<typeof schema>; enqueuer: Enqueuer };
}

export type App = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  TypeBoxTypeProvider
> &
  Decorations;

/**
 * Two validators: bodies are checked strictly (no type coercion, unknown fields refused); query strings
 * and path params are coerced, since everything in a URL is a string.
 */
function validatorCompilers() {
  const options = { allErrors: false, useDefaults: true, removeAdditional: false, strict: false } as const;
  const strict = addFormats.default(new Ajv({ ...options, coerceTypes: false }));
  const coercing = addFormats.default(new Ajv({ ...options, coerceTypes: 'array' }));
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema);
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const fastify = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: 1024 * 1024,
  }).withTypeProvider<TypeBoxTypeProvider>();
  const app = fastify as unknown as App;
  app.decorate('deps', { ...deps, db: drizzle(deps.pool, { schema }), enqueuer: new Enqueuer(deps) });
  app.setValidatorCompiler(validatorCompilers());
  registerProblemHandlers(app);
  registerAuth(app, deps.config.apiToken);
  app.addSchema(Problem);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tickwork API',
        version: '0.1.0',
        description: 'Schedules, tasks and runs. Errors are application/problem+json.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());

  metricsRoutes(app);
  healthRoutes(app);
  registerUi(app);
  await app.register(
    (api, _opts, done) => {
      const scoped = api as unknown as App;
      taskRoutes(scoped);
      runRoutes(scoped);
      scheduleRoutes(scoped);
      botRoutes(scoped);
      statusRoutes(scoped);
      done();
    },
    { prefix: '/api/v1' },
  );
  return app;
}
