import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { spawnService, type ServiceProcess } from './support/processes.js';
import { startApi } from './support/stack.js';

const TOKEN = 'tw-test-token-0123456789abcdef';

let env: TestEnv;
let secured: { api: App; broker: Broker };
let open: { api: App; broker: Broker };
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  secured = await startApi(env, { API_TOKEN: TOKEN });
  open = await startApi(env);
});

afterAll(async () => {
  for (const p of processes) p.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await secured?.api.close();
  await secured?.broker.stop();
  await open?.api.close();
  await open?.broker.stop();
  await env?.cleanup();
});

type Method = 'GET' | 'POST';

interface Problem {
  type: unknown;
  title: unknown;
  status: unknown;
  detail: unknown;
}

const countRuns = async () =>
  (await env.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM runs')).rows[0]?.n;

function inject(api: App, method: Method, url: string, authorization?: string) {
  return api.inject({
    method,
    url,
    headers: authorization === undefined ? {} : { authorization },
    ...(method === 'POST' && url.endsWith('/tasks')
      ? { payload: { task: 'diag.echo', args: { via: url }, delaySeconds: 3600 } }
      : {}),
  });
}

function expectUnauthorized(response: Awaited<ReturnType<typeof inject>>, context: string): void {
  expect(response.statusCode, context).toBe(401);
  expect(response.headers['content-type'], context).toMatch(/^application\/problem\+json\b/);
  expect(String(response.headers['www-authenticate']), context).toMatch(/^Bearer\b/);
  const problem = response.json<Problem>();
  expect(problem.status, context).toBe(401);
  expect(typeof problem.type, context).toBe('string');
  expect(typeof problem.title, context).toBe('string');
  expect(typeof problem.detail, context).toBe('string');
  expect(response.body, context).not.toContain(TOKEN);
}

const PROTECTED: Array<[Method, string]> = [
  ['GET', '/api/v1/runs'],
  ['GET', '/api/v1/runs/1'],
  ['POST', '/api/v1/tasks'],
  ['POST', '/api/v1/runs/1/retry'],
  ['POST', '/api/v1/runs/1/cancel'],
  ['GET', '/api/v1/queues'],
  ['GET', '/api/v1/workers'],
  ['GET', '/api/v1/no-such-route'],
];

describe('with API_TOKEN set', () => {
  it.each(PROTECTED)('%s %s without Authorization → 401', async (method, url) => {
    const before = await countRuns();
    expectUnauthorized(await inject(secured.api, method, url), `${method} ${url}`);
    expect(await countRuns()).toBe(before);
  });

  it.each([
    ['a wrong token', 'Bearer wrong-token-0123456789abcdef'],
    ['the token with an extra character', `Bearer ${TOKEN}x`],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`],
    ['the token in another case', `Bearer ${TOKEN.toUpperCase()}`],
    ['the token without a scheme', TOKEN],
    ['the token as Basic credentials', `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}`],
    ['an empty bearer', 'Bearer '],
    ['the token followed by another word', `Bearer ${TOKEN} ${TOKEN}`],
    ['an empty header', ''],
  ])('refuses %s with 401', async (_name, authorization) => {
    for (const [method, url] of PROTECTED) {
      expectUnauthorized(await inject(secured.api, method, url, authorization), `${method} ${url}`);
    }
  });

  it.each(['/%61pi/v1/runs', '/a%70i/v1/workers', '/api/v1/%72uns', '/%61%70%69/v1/queues'])(
    'does not let the percent-encoded path %s around the token',
    async (url) => {
      const response = await inject(secured.api, 'GET', url);
      expect(response.statusCode, `${url}: ${response.body}`).not.toBeLessThan(400);
      if (response.statusCode !== 404) expectUnauthorized(response, url);
    },
  );

  it('does not create a run for an unauthenticated POST /tasks', async () => {
    const before = await countRuns();
    const response = await secured.api.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { task: 'diag.echo', args: { sneaky: true } },
    });
    expectUnauthorized(response, 'POST /api/v1/tasks');
    expect(await countRuns()).toBe(before);
    const { rows } = await env.pool.query('SELECT id FROM runs WHERE args @> $1', [
      JSON.stringify({ sneaky: true }),
    ]);
    expect(rows).toHaveLength(0);
  });

  it('answers 2xx with the right token', async () => {
    const auth = `Bearer ${TOKEN}`;
    const accepted = await inject(secured.api, 'POST', '/api/v1/tasks', auth);
    expect(accepted.statusCode, accepted.body).toBe(202);
    const run = accepted.json<{ id: number; status: string }>();
    expect(run.status).toBe('scheduled');

    const one = await inject(secured.api, 'GET', `/api/v1/runs/${run.id}`, auth);
    expect(one.statusCode, one.body).toBe(200);
    expect(one.json()).toMatchObject({ id: run.id, task: 'diag.echo' });

    const list = await inject(secured.api, 'GET', '/api/v1/runs', auth);
    expect(list.statusCode, list.body).toBe(200);
    expect(list.json<{ items: Array<{ id: number }> }>().items.map((r) => r.id)).toContain(run.id);

    for (const url of ['/api/v1/queues', '/api/v1/workers']) {
      const response = await inject(secured.api, 'GET', url, auth);
      expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
    }

    const cancelled = await inject(secured.api, 'POST', `/api/v1/runs/${run.id}/cancel`, auth);
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json()).toMatchObject({ id: run.id, status: 'cancelled' });
  });

  it('accepts the scheme in any case and surrounding whitespace', async () => {
    for (const authorization of [`bearer ${TOKEN}`, `BEARER ${TOKEN}`, `Bearer   ${TOKEN}  `]) {
      const response = await inject(secured.api, 'GET', '/api/v1/runs', authorization);
      expect(response.statusCode, authorization).toBe(200);
    }
  });

  it('gives a 404 (not a 401) for an unknown route behind a valid token', async () => {
    const response = await inject(secured.api, 'GET', '/api/v1/no-such-route', `Bearer ${TOKEN}`);
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json\b/);
  });

  it.each([
    ['/healthz', undefined],
    ['/readyz', undefined],
    ['/openapi.json', undefined],
    ['/docs', undefined],
    ['/healthz', 'Bearer wrong-token-0123456789abcdef'],
    ['/openapi.json', 'Bearer wrong-token-0123456789abcdef'],
  ])('answers %s without a valid token (Authorization: %s)', async (url, authorization) => {
    let response = await inject(secured.api, 'GET', url, authorization);
    if (response.statusCode >= 300 && response.statusCode < 400) {
      const location = String(response.headers.location);
      response = await inject(secured.api, 'GET', new URL(location, 'http://localhost' + url).pathname);
    }
    expect(response.statusCode, `${url}: ${response.body.slice(0, 300)}`).toBe(200);
    if (url === '/readyz') expect(response.json()).toMatchObject({ status: 'ready' });
    if (url === '/openapi.json') expect(response.json<{ openapi: string }>().openapi).toMatch(/^3\./);
    if (url === '/docs') expect(response.headers['content-type']).toMatch(/text\/html/);
  });
});

describe('without API_TOKEN', () => {
  it('lets requests without Authorization through', async () => {
    const list = await open.api.inject({ method: 'GET', url: '/api/v1/runs' });
    expect(list.statusCode, list.body).toBe(200);
    const workers = await open.api.inject({ method: 'GET', url: '/api/v1/workers' });
    expect(workers.statusCode, workers.body).toBe(200);
    const accepted = await inject(open.api, 'POST', '/api/v1/tasks');
    expect(accepted.statusCode, accepted.body).toBe(202);
  });

  it('ignores whatever Authorization a client sends', async () => {
    for (const authorization of ['Bearer anything', 'Basic Zm9vOmJhcg==', 'garbage']) {
      const response = await inject(open.api, 'GET', '/api/v1/runs', authorization);
      expect(response.statusCode, authorization).toBe(200);
      expect(response.headers['www-authenticate']).toBeUndefined();
    }
  });
});

function spawnApi(overrides: Record<string, string>): ServiceProcess {
  const service = spawnService('api', env.processEnv({ PORT: '0', ...overrides }));
  processes.push(service);
  return service;
}

/** The address a spawned api reports in its "Server listening at …" log line. */
async function listeningAt(service: ServiceProcess): Promise<string> {
  await service.waitForOutput(/Server listening at http:\/\/127\.0\.0\.1:\d+/, 60_000);
  const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(service.output());
  return match![1]!;
}

describe('the api process', () => {
  it('refuses to start in production without API_TOKEN, naming the variable', async () => {
    const service = spawnApi({ NODE_ENV: 'production' });
    const { code } = await service.exited;
    expect(code, service.output()).toBe(1);
    expect(service.output()).toMatch(/API_TOKEN/);
    expect(service.output()).not.toMatch(/Server listening/);
  }, 90_000);

  it('treats an empty API_TOKEN as missing in production', async () => {
    const service = spawnApi({ NODE_ENV: 'production', API_TOKEN: '' });
    const { code } = await service.exited;
    expect(code, service.output()).toBe(1);
    expect(service.output()).toMatch(/API_TOKEN/);
  }, 90_000);

  it('warns loudly about a missing API_TOKEN outside production, and serves without one', async () => {
    const service = spawnApi({ NODE_ENV: 'development' });
    await service.waitForOutput(/API_TOKEN/, 60_000);
    const warning = service
      .output()
      .split('\n')
      .find((line) => line.includes('API_TOKEN'));
    // pino's warn level is 40; a pretty-printed line says WARN.
    expect(warning).toMatch(/"level":40|WARN/);
    const base = await listeningAt(service);
    const response = await fetch(`${base}/api/v1/runs`, { signal: AbortSignal.timeout(10_000) });
    expect(response.status).toBe(200);
    service.kill('SIGTERM');
    const { code } = await service.exited;
    expect(code, service.output()).toBe(0);
  }, 90_000);

  it('starts in production with API_TOKEN, enforces it over HTTP and never logs it', async () => {
    const service = spawnApi({ NODE_ENV: 'production', API_TOKEN: TOKEN });
    const base = await listeningAt(service);
    const signal = () => AbortSignal.timeout(10_000);

    const anonymous = await fetch(`${base}/api/v1/runs`, { signal: signal() });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toMatch(/^application\/problem\+json\b/);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    await anonymous.body?.cancel();

    const wrong = await fetch(`${base}/api/v1/runs`, {
      headers: { authorization: 'Bearer not-the-token-0123456789' },
      signal: signal(),
    });
    expect(wrong.status).toBe(401);
    await wrong.body?.cancel();

    const right = await fetch(`${base}/api/v1/runs`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: signal(),
    });
    expect(right.status).toBe(200);
    expect(await right.json()).toHaveProperty('items');

    const health = await fetch(`${base}/healthz`, { signal: signal() });
    expect(health.status).toBe(200);
    await health.body?.cancel();

    service.kill('SIGTERM');
    const { code } = await service.exited;
    expect(code, service.output()).toBe(0);
    expect(service.output()).not.toContain(TOKEN);
    expect(service.output()).not.toMatch(/API_TOKEN is not set/);
  }, 90_000);
});
