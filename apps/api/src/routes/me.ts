import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import { Identity } from '../schemas/me.js';

/** `GET /me`: who the caller is, so the dashboard and the CLI can show it and hide what it may not do. */
export const meRoutes: FastifyPluginCallbackTypebox = (app, _options, done) => {
  app.get(
    '/me',
    {
      schema: {
        summary: 'The token this request uses: its name and role',
        tags: ['access'],
        response: { 200: Identity },
      },
    },
    (request) =>
      request.token
        ? { name: request.token.name, role: request.token.role, authenticated: true }
        : { name: null, role: 'admin' as const, authenticated: false },
  );
  done();
};
