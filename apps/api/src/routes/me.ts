import Type from 'typebox';
import type { App } from '../app.js';

const Identity = Type.Object(
  {
    name: Type.Union([Type.String(), Type.Null()], {
      description:
        'The token’s name from API_TOKEN ("api-token") or API_TOKENS; null when the API has no token',
    }),
    role: Type.Union([Type.Literal('admin'), Type.Literal('read')], {
      description: 'admin: everything; read: GET requests (and previews) only',
    }),
    authenticated: Type.Boolean({
      description: 'false when the API runs without any token (development): every request is admin',
    }),
  },
  { description: 'Who the request acts as' },
);

/** `GET /me`: who the caller is, so the dashboard and the CLI can show it and hide what it may not do. */
export function meRoutes(app: App): void {
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
}
