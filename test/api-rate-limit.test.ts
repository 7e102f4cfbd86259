import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '@tickwork/core';
import { buildUi } from '../scripts/build-ui.js';
import type { App } from '../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startApi } from './support/stack.js';

/**
 * API_RATE_LIMIT per token (by name), or per client address without a valid token: 429 problem+json
 * with Retry-After and the x-ratelimit-* headers; probes and the dashboard's files are never limited.
 * A window of an hour, so no test can see it reset by accident on a slow machine.
 */
const LIMIT = 5;
const ADMIN = 'tw-limit-admin-0123456789abcdef';
const DASH = 'tw-limit-dash-0123456789abcdefg';
const OPS = 'tw-limit-ops-0123456789abcdefgh';
const LIMITED = {
  API_TOKEN: ADMIN,
  API_TOKENS: `dash:read:${DASH},ops:read:${OPS}`,
  API_RATE_LIMIT: String(LIMIT),
  API_RATE_LIMIT_WINDOW_SECONDS: '3600',
};

let env: TestEnv;
const apis: Array<{ api: App; broker: Broker }> = [];

async function limitedApi(overrides: Record<string, string> = {}): Promise<App> {
  const started = await startApi(env, { ...LIMITED, ...overrides });
  apis.push(started);
  return started.api;
}

beforeAll(async () => {
  [env] = await Promise.all([createTestEnv(), buildUi()]);
});

afterAll(async () => {
  for (const { api, broker } of apis) {
    await api.close();
    await broker.stop();
  }
  await env?.cleanup();
});

const get = (api: App, url: string, secret?: string, remoteAddress = '127.0.0.1') =>
  api.inject({
    method: 'GET',
    url,
    remoteAddress,
    headers: secret === undefined ? {} : { authorization: `Bearer ${secret}` },
  });

describe('the rate limit', () => {
  it('answers 429 problem+json with Retry-After once a token has spent its requests', async () => {
    const api = await limitedApi();
    for (let i = 1; i <= LIMIT; i++) {
      const response = await get(api, '/api/v1/runs', DASH);
      expect(response.statusCode, response.body).toBe(200);
      expect(response.headers['x-ratelimit-limit']).toBe(String(LIMIT));
      expect(response.headers['x-ratelimit-remaining']).toBe(String(LIMIT - i));
    }
    const refused = await get(api, '/api/v1/runs', DASH);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json\b/);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    expect(refused.headers['x-ratelimit-remaining']).toBe('0');
    expect(refused.json()).toMatchObject({ status: 429, title: 'Too Many Requests' });
    expect(refused.json<{ detail: string }>().detail).toMatch(/token "dash".*retry in/);
    expect(refused.body).not.toContain(DASH);
  });

  it('counts each token on its own, whatever address it comes from', async () => {
    const api = await limitedApi();
    for (let i = 0; i < LIMIT; i++)
      expect((await get(api, '/api/v1/me', DASH, `10.0.0.${i + 1}`)).statusCode).toBe(200);
    expect((await get(api, '/api/v1/me', DASH, '10.0.1.1')).statusCode).toBe(429);
    // Same address, other tokens: their own budgets, although the limiter runs before the auth hook.
    expect((await get(api, '/api/v1/me', OPS, '10.0.0.1')).statusCode).toBe(200);
    expect((await get(api, '/api/v1/me', ADMIN, '10.0.0.1')).statusCode).toBe(200);
  });

  it('counts requests without a valid token by address, refused guesses included', async () => {
    const api = await limitedApi();
    for (let i = 0; i < LIMIT; i++)
      expect((await get(api, '/api/v1/runs', `guess-${i}-0123456789abcdef`, '10.9.0.1')).statusCode).toBe(
        401,
      );
    const refused = await get(api, '/api/v1/runs', 'one-more-guess-0123456789', '10.9.0.1');
    expect(refused.statusCode).toBe(429);
    expect(refused.json<{ detail: string }>().detail).toMatch(/from this address/);
    // Another address, and a valid token from the same address, are not affected.
    expect((await get(api, '/api/v1/runs', 'other-guess-0123456789ab', '10.9.0.2')).statusCode).toBe(401);
    expect((await get(api, '/api/v1/runs', DASH, '10.9.0.1')).statusCode).toBe(200);
  });

  it('never limits /healthz, /readyz or the dashboard files', async () => {
    const api = await limitedApi();
    for (let i = 0; i < LIMIT + 3; i++) {
      for (const url of ['/healthz', '/readyz', '/ui/', '/ui/app.js']) {
        const response = await get(api, url);
        expect(response.statusCode, `${url} #${i}`).toBe(200);
        expect(response.headers['x-ratelimit-limit'], url).toBeUndefined();
      }
    }
    // Other routes outside /api are limited by address.
    for (let i = 0; i < LIMIT; i++) await get(api, '/openapi.json');
    expect((await get(api, '/openapi.json')).statusCode).toBe(429);
  });

  it('is off with API_RATE_LIMIT=0', async () => {
    const api = await limitedApi({ API_RATE_LIMIT: '0' });
    for (let i = 0; i < LIMIT * 3; i++) {
      const response = await get(api, '/api/v1/me', DASH);
      expect(response.statusCode).toBe(200);
      expect(response.headers['x-ratelimit-limit']).toBeUndefined();
    }
  });
});
