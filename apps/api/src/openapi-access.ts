import type { SwaggerTransform } from '@fastify/swagger';
import type { TokenRole } from '@tickwork/core';

const problem = (description: string, headers: Record<string, string> = {}) => ({
  description,
  ...(Object.keys(headers).length > 0
    ? {
        headers: Object.fromEntries(
          Object.entries(headers).map(([name, meaning]) => [name, { type: 'integer', description: meaning }]),
        ),
      }
    : {}),
  content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } },
});

/** The answers any /api route may give for access reasons, whatever it does; 403 only on admin routes. */
const UNAUTHORIZED = problem('No bearer token, or one the API does not know (WWW-Authenticate: Bearer)');
const FORBIDDEN = problem('The token is a read token; this request needs an admin token');
const RATE_LIMITED = problem('Over API_RATE_LIMIT requests for this token (or address) in the window', {
  'retry-after': 'Seconds until the window resets',
  'x-ratelimit-limit': 'Requests allowed per window',
  'x-ratelimit-remaining': 'Requests left in this window',
  'x-ratelimit-reset': 'Seconds until the window resets',
});

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

/**
 * Documents access control in the OpenAPI document only (validation and serialisation are untouched):
 * /api routes get their role and the 401/403/429 answers; routes outside /api need no token.
 * Mirrors requiredRole() in auth.ts, which decides.
 */
export const documentAccess: SwaggerTransform = ({ schema, url, route }) => {
  const own: Record<string, unknown> = { ...(schema ?? {}) };
  if (!url.startsWith('/api/')) return { schema: { ...own, security: [] }, url };
  const methods = [route.method].flat();
  const role: TokenRole =
    route.config?.access ?? (methods.every((m) => m === 'GET' || m === 'HEAD') ? 'read' : 'admin');
  const description = typeof own.description === 'string' ? `${own.description}\n\n` : '';
  const responses = isObject(own.response) ? own.response : {};
  return {
    schema: {
      ...own,
      description: `${description}Needs a token with role **${role}**${role === 'read' ? ' (or admin)' : ''}.`,
      response: {
        401: UNAUTHORIZED,
        ...(role === 'admin' ? { 403: FORBIDDEN } : {}),
        429: RATE_LIMITED,
        ...responses,
      },
    },
    url,
  };
};
