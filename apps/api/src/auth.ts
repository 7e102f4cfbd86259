import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { HttpProblem, sendProblem } from './problem.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Bearer-token check for everything under /api/. Without a token configured, every request passes. */
export function registerAuth(app: FastifyInstance, token: string | undefined): void {
  if (token === undefined) return;
  const expected = digest(token);
  app.addHook('onRequest', async (request, reply) => {
    // The matched route decides, not the raw URL: `/%61pi/v1/runs` reaches /api/v1/runs too.
    const route = request.routeOptions.url;
    if (!request.url.startsWith('/api/') && !route?.startsWith('/api/')) return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match?.[1] && timingSafeEqual(digest(match[1]), expected)) return;
    reply.header('WWW-Authenticate', 'Bearer realm="tickwork"');
    await sendProblem(
      reply,
      new HttpProblem(
        401,
        'Unauthorized',
        match ? 'the bearer token is not valid' : 'an Authorization: Bearer token is required',
      ),
    );
  });
}
