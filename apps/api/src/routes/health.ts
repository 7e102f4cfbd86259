import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { pingDatabase } from '@tickwork/core';
import { Liveness, Readiness } from '../schemas/health.js';

/** `GET /healthz` and `GET /readyz`: probes, outside /api (no token). */
export const healthRoutes: FastifyPluginCallbackTypebox = (app, _options, done) => {
  const { pool, broker } = app.deps;

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'The process is up',
        tags: ['health'],
        response: { 200: Liveness },
      },
    },
    () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'PostgreSQL and RabbitMQ are reachable (503 otherwise)',
        tags: ['health'],
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const postgres = await Promise.race([
        pingDatabase(pool).then(
          () => 'up',
          (error: unknown) => `down: ${error instanceof Error ? error.message : String(error)}`,
        ),
        new Promise<string>((resolve) =>
          setTimeout(() => resolve('down: no answer within 2s'), 2000).unref(),
        ),
      ]);
      const rabbitmq = broker.isConnected ? 'up' : 'down: not connected';
      const ready = postgres === 'up' && rabbitmq === 'up';
      return reply
        .code(ready ? 200 : 503)
        .send({ status: ready ? 'ready' : 'unavailable', checks: { postgres, rabbitmq } });
    },
  );
  done();
};
