import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bearerSecret, SecretMatcher, type ApiToken, type TokenRole } from '@tickwork/core';
import { HttpProblem, sendProblem } from './problem.js';

/** The token a request authenticated with: its name (for logs, limits, /me) and role, never its secret. */
export interface RequestToken {
  name: string;
  role: TokenRole;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on /api routes; null when no token is configured (development). */
    token: RequestToken | null;
  }
  interface FastifyContextConfig {
    /** The role a route needs when it is not the default: read for GET and HEAD, admin otherwise. */
    access?: TokenRole;
  }
}

/**
 * Which configured token a request carries, looked up once per request whoever asks first (the auth
 * hook or the rate limiter's key), so neither depends on the other's hook order.
 */
export class TokenResolver {
  private readonly matcher: SecretMatcher<RequestToken>;
  private readonly seen = new WeakMap<FastifyRequest, RequestToken | null>();

  constructor(tokens: readonly ApiToken[]) {
    this.matcher = new SecretMatcher(
      tokens.map(({ name, role, secret }) => ({ secret, value: { name, role } })),
    );
  }

  /** Without any token configured, the API is open (with a loud warning at start). */
  get enabled(): boolean {
    return this.matcher.size > 0;
  }

  resolve(request: FastifyRequest): RequestToken | null {
    let token = this.seen.get(request);
    if (token === undefined) {
      token = this.matcher.match(bearerSecret(request.headers.authorization)) ?? null;
      this.seen.set(request, token);
    }
    return token;
  }
}

/** Everything under /api/ needs a token; the matched route decides, not the raw URL (`/%61pi/v1/runs`). */
export function isApiRequest(request: FastifyRequest): boolean {
  return request.url.startsWith('/api/') || (request.routeOptions.url?.startsWith('/api/') ?? false);
}

/**
 * The one rule for who may do what: a route's `config.access` if it declares one, else read for GET
 * and HEAD and admin for every other method. An unknown route needs only a valid token, to get its 404.
 */
export function requiredRole(request: FastifyRequest): TokenRole {
  if (request.routeOptions.url === undefined) return 'read';
  const declared = request.routeOptions.config.access;
  if (declared) return declared;
  return request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'admin';
}

/** Bearer tokens with roles for everything under /api/: 401 without a known token, 403 without the role. */
export function registerAuth(app: FastifyInstance, tokens: TokenResolver): void {
  app.decorateRequest('token', null);
  if (!tokens.enabled) return;
  app.addHook('onRequest', async (request, reply) => {
    if (!isApiRequest(request)) return;
    const token = tokens.resolve(request);
    if (!token) {
      const present = bearerSecret(request.headers.authorization) !== undefined;
      reply.header('WWW-Authenticate', 'Bearer realm="tickwork"');
      return sendProblem(
        reply,
        new HttpProblem(
          401,
          'Unauthorized',
          present ? 'the bearer token is not valid' : 'an Authorization: Bearer token is required',
        ),
      );
    }
    request.token = token;
    // The "request completed" line names the token (never its secret).
    request.log = reply.log = request.log.child({ token: token.name });
    if (requiredRole(request) === 'admin' && token.role !== 'admin') {
      return sendProblem(
        reply,
        new HttpProblem(
          403,
          'Forbidden',
          `token "${token.name}" is read-only; this request needs an admin token`,
        ),
      );
    }
  });
}
