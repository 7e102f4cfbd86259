import Fastify, { type FastifyBaseLogger } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { engineContracts, Enqueuer, KnownTasks, Outbox } from '@tickwork/core';
import { registerAuth, TokenResolver } from './auth.js';
import type { App, AppDeps } from './deps.js';
import { documentAccess } from './openapi-access.js';
import { registerRateLimit } from './rate-limit.js';
import { apiSecrets, RequestLogController, requestSerializer } from './request-log.js';
import { meRoutes } from './routes/me.js';
import { clientErrorHandler, registerJsonBodies, registerTextChecks } from './input-checks.js';
import { frameworkError, registerProblemHandlers } from './problem.js';
import { healthRoutes } from './routes/health.js';
import { countRequests, metricsRoutes } from './routes/metrics.js';
import { bulkRoutes } from './routes/bulk.js';
import { eventRoutes } from './routes/events.js';
import { runRoutes } from './routes/runs.js';
import { scheduleRoutes } from './routes/schedules.js';
import { queuePauseRoutes } from './routes/queue-pauses.js';
import { statusRoutes } from './routes/status.js';
import { taskRoutes } from './routes/tasks.js';
import { webhookRoutes } from './routes/webhooks.js';
import { workflowRoutes } from './routes/workflows.js';
import { TaskGate } from './task-args.js';
import { Problem } from './schemas/common.js';
import { registerUi } from './ui.js';

// What the composition root (main.ts) and the tests build the API with, and get back.
export type { App, AppDeps } from './deps.js';

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
  const limits = deps.config.apiLimits;
  // Request lines log the URL without credentials: ?token=… or any configured secret. Typed as the
  // logger Fastify's plugins and routes see (App's), which the engine's pino logger is.
  const loggerInstance: FastifyBaseLogger = deps.logger.child(
    {},
    { serializers: { req: requestSerializer(apiSecrets(deps.config)) } },
  );
  const app: App = Fastify({
    loggerInstance,
    // One line per request when answered; the dashboard's polling and health checks only at debug.
    logController: new RequestLogController(),
    bodyLimit: limits.bodyLimitBytes,
    // The whole request, body included, must arrive in time (408 otherwise): a slow or unfinished body
    // cannot hold a connection. Node checks every connectionsCheckingInterval, so keep that short.
    requestTimeout: limits.requestTimeoutMs,
    clientErrorHandler,
    frameworkErrors: frameworkError,
    http: {
      headersTimeout: Math.min(limits.requestTimeoutMs, 20_000),
      connectionsCheckingInterval: Math.min(limits.requestTimeoutMs / 2, 1000),
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Beyond this many open connections Node closes new ones at once.
  app.server.maxConnections = limits.maxConnections;
  registerJsonBodies(app);
  registerTextChecks(app, limits);
  // The API accepts what the task catalogue holds: its own contracts (the engine's, TASK_MODULES')
  // and those workers registered. It never needs a task's code.
  const known = new KnownTasks(deps.pool, [
    ...engineContracts(deps.config.diagTasks),
    ...(deps.extensions ?? []).flatMap((e) => e.contracts),
    ...(deps.contracts ?? []),
  ]);
  const taskGate = new TaskGate(known, limits, deps.config.diagTasks);
  const outbox = new Outbox(deps);
  app.decorate('deps', {
    ...deps,
    outbox,
    enqueuer: new Enqueuer({ pool: deps.pool, outbox }),
    taskGate,
  });
  app.setValidatorCompiler(validatorCompilers());
  registerProblemHandlers(app);
  const tokens = new TokenResolver(deps.config.apiTokens);
  await registerRateLimit(app, limits, tokens);
  registerAuth(app, tokens);
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
    transform: documentAccess,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());

  countRequests(app);
  await app.register(metricsRoutes);
  await app.register(healthRoutes);
  registerUi(app);
  await app.register(
    async (api) => {
      await api.register(taskRoutes);
      await api.register(runRoutes);
      await api.register(workflowRoutes);
      await api.register(bulkRoutes);
      await api.register(scheduleRoutes);
      await api.register(statusRoutes);
      await api.register(queuePauseRoutes);
      await api.register(meRoutes);
      await api.register(webhookRoutes);
      await api.register(eventRoutes);
    },
    { prefix: '/api/v1' },
  );
  // Each extension's routes, after the engine's, under the same prefix (in a context of their own).
  for (const extension of deps.extensions ?? []) await app.register(extension.routes, { prefix: '/api/v1' });
  return app;
}
