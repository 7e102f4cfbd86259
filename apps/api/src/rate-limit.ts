import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiLimits } from '@tickwork/core';
import type { TokenResolver } from './auth.js';
import { HttpProblem } from './problem.js';

/** Probes and the dashboard's static files: never limited (a throttled probe would restart a healthy API). */
const EXEMPT_ROUTES = new Set(['/healthz', '/readyz', '/ui', '/ui/', '/ui/:file']);

/**
 * Keys tracked at once. The store is an LRU map: beyond this many tokens and addresses the least
 * recently seen are forgotten (and start afresh), so the limiter's memory stays bounded.
 */
const TRACKED_KEYS = 10_000;

/**
 * API_RATE_LIMIT requests per API_RATE_LIMIT_WINDOW_SECONDS for each token (by name), or for each
 * client address when a request carries no valid token; 0 turns it off. Runs before the auth hook, so
 * refused guesses count against their address too. Over the limit: 429 problem+json with Retry-After
 * and the x-ratelimit-* headers (which every limited answer carries).
 */
export async function registerRateLimit(
  app: FastifyInstance,
  limits: Pick<ApiLimits, 'rateLimit' | 'rateLimitWindowMs'>,
  tokens: TokenResolver,
): Promise<void> {
  if (limits.rateLimit === 0) return;
  const keyOf = (request: FastifyRequest) => {
    const token = tokens.resolve(request);
    return token ? `token:${token.name}` : `address:${normalizeIP(request.ip)}`;
  };
  await app.register(rateLimit, {
    global: false,
    max: limits.rateLimit,
    timeWindow: limits.rateLimitWindowMs,
    cache: TRACKED_KEYS,
    keyGenerator: keyOf,
    allowList: (request) => EXEMPT_ROUTES.has(request.routeOptions.url ?? ''),
    errorResponseBuilder: (request, context) => {
      const who = tokens.resolve(request);
      return new HttpProblem(
        429,
        'Too Many Requests',
        `more than ${context.max} requests in ${limits.rateLimitWindowMs / 1000} s ` +
          `${who ? `with token "${who.name}"` : 'from this address'}; retry in ${context.after}`,
      );
    },
  });
  // A hook of the root instance (not per route, as `global: true` would add it), registered before the
  // auth hook: it also covers unknown routes and requests the auth hook refuses.
  app.addHook('onRequest', app.rateLimit());
}
