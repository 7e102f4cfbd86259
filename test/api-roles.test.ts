import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Broker } from '@tickwork/core';
import { buildApp, type App } from '../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { spawnService, type ServiceProcess } from './support/processes.js';
import { startApi } from './support/stack.js';

/**
 * Tokens with roles (API_TOKEN = admin "api-token", API_TOKENS = name:role:secret): 401 for no or an
 * unknown token, 403 for a read token on anything but reading, GET /me, and the OpenAPI document saying so.
 */
const ADMIN = 'tw-roles-admin-0123456789abcdef';
const OPS = 'tw-roles-ops-0123456789abcdefgh';
const DASH = 'tw-roles-dash-0123456789abcdefg';
const TOKENS = { API_TOKEN: ADMIN, API_TOKENS: `ops:admin:${OPS},dash:read:${DASH}` };

let env: TestEnv;
let api: App;
let broker: Broker;
let open: { api: App; broker: Broker };
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  ({ api, broker } = await startApi(env, TOKENS));
  open = await startApi(env);
});

afterAll(async () => {
  for (const p of processes) p.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await api?.close();
  await broker?.stop();
  await open?.api.close();
  await open?.broker.stop();
  await env?.cleanup();
});

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
const as = (secret: string | undefined, method: Method, url: string, payload?: object, target = api) =>
  target.inject({
    method,
    url,
    headers: secret === undefined ? {} : { authorization: `Bearer ${secret}` },
    ...(payload ? { payload } : {}),
  });

const countRows = async (table: 'runs' | 'schedules') =>
  (await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n;

const cron = { type: 'cron', expression: '0 0 1 1 *', timezone: 'UTC' };

describe('roles', () => {
  it('names the token and its role at GET /me', async () => {
    for (const [secret, name, role] of [
      [ADMIN, 'api-token', 'admin'],
      [OPS, 'ops', 'admin'],
      [DASH, 'dash', 'read'],
    ] as const) {
      const response = await as(secret, 'GET', '/api/v1/me');
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json()).toEqual({ name, role, authenticated: true });
      expect(response.body).not.toContain(secret);
    }
  });

  it('lets a read token read everything', async () => {
    for (const url of ['/api/v1/runs', '/api/v1/schedules', '/api/v1/queues', '/api/v1/workers']) {
      const response = await as(DASH, 'GET', url);
      expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
    }
    const head = await api.inject({
      method: 'HEAD',
      url: '/api/v1/runs',
      headers: { authorization: `Bearer ${DASH}` },
    });
    expect(head.statusCode).toBe(200);
  });

  it('lets a read token preview a trigger, which creates nothing', async () => {
    const before = await countRows('schedules');
    const response = await as(DASH, 'POST', '/api/v1/schedules/preview', { trigger: cron, count: 3 });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json<{ upcoming: string[] }>().upcoming).toHaveLength(3);
    expect(await countRows('schedules')).toBe(before);
  });

  it.each<[Method, string, object | undefined]>([
    ['POST', '/api/v1/tasks', { task: 'diag.echo', args: { by: 'dash' } }],
    ['POST', '/api/v1/tasks/batch', { tasks: [{ task: 'diag.echo' }] }],
    ['POST', '/api/v1/schedules', { name: 'by-dash', task: 'diag.echo', trigger: cron }],
    ['PATCH', '/api/v1/schedules/1', { enabled: false }],
    ['DELETE', '/api/v1/schedules/1', undefined],
    ['POST', '/api/v1/schedules/1/pause', undefined],
    ['POST', '/api/v1/schedules/1/trigger', undefined],
    ['POST', '/api/v1/runs/1/retry', undefined],
    ['POST', '/api/v1/runs/1/cancel', undefined],
    [
      'POST',
      '/api/v1/bot-configs',
      { name: 'b', subreddits: ['x'], autoScrapeEnabled: false, scrapeIntervalHours: 1 },
    ],
    ['POST', '/api/v1/scraping/start', { botConfigId: 1 }],
  ])('refuses a read token %s %s with 403, changing nothing', async (method, url, payload) => {
    const before = { runs: await countRows('runs'), schedules: await countRows('schedules') };
    const response = await as(DASH, method, url, payload);
    expect(response.statusCode, response.body).toBe(403);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json\b/);
    expect(response.json()).toMatchObject({
      status: 403,
      title: 'Forbidden',
      detail: 'token "dash" is read-only; this request needs an admin token',
    });
    expect({ runs: await countRows('runs'), schedules: await countRows('schedules') }).toEqual(before);
  });

  it('lets every admin token change things', async () => {
    for (const secret of [ADMIN, OPS]) {
      const response = await as(secret, 'POST', '/api/v1/tasks', { task: 'diag.echo', delaySeconds: 3600 });
      expect(response.statusCode, response.body).toBe(202);
    }
  });

  it('answers 401 (not 403) for an unknown token, and 404 for an unknown route with a read token', async () => {
    const unknown = await as(`${DASH}x`, 'POST', '/api/v1/tasks', { task: 'diag.echo' });
    expect(unknown.statusCode).toBe(401);
    expect(String(unknown.headers['www-authenticate'])).toMatch(/^Bearer\b/);
    expect((await as(DASH, 'POST', '/api/v1/no-such-route')).statusCode).toBe(404);
  });

  it('without any token configured: everything passes, /me says so', async () => {
    const me = await as(undefined, 'GET', '/api/v1/me', undefined, open.api);
    expect(me.json()).toEqual({ name: null, role: 'admin', authenticated: false });
    const accepted = await as(
      undefined,
      'POST',
      '/api/v1/tasks',
      { task: 'diag.echo', delaySeconds: 3600 },
      open.api,
    );
    expect(accepted.statusCode, accepted.body).toBe(202);
  });

  it('logs the token name, never its secret, on the request line', async () => {
    const lines: string[] = [];
    // At debug: a successful read logs its line only there (routine polling stays out of info).
    const logger = createLogger(
      { level: 'debug', service: 'api' },
      { write: (line: string) => lines.push(line) },
    );
    const logged = await buildApp({ pool: env.pool, broker, logger, config: env.config(TOKENS) });
    try {
      await as(DASH, 'GET', '/api/v1/runs', undefined, logged);
      await as(DASH, 'POST', '/api/v1/runs/1/cancel', undefined, logged);
    } finally {
      await logged.close();
    }
    const completed = lines.filter((line) => line.includes('request completed'));
    expect(completed).toHaveLength(2);
    for (const line of completed) expect(JSON.parse(line)).toMatchObject({ token: 'dash' });
    expect(
      completed.map((line) => (JSON.parse(line) as { res: { statusCode: number } }).res.statusCode),
    ).toEqual([200, 403]);
    expect(lines.join('')).not.toContain(DASH);
  });
});

describe('the OpenAPI document', () => {
  interface Operation {
    security?: unknown[];
    description?: string;
    responses: Record<string, unknown>;
  }
  const operation = async (path: string, method: string) => {
    const doc = (await as(undefined, 'GET', '/openapi.json')).json<{
      paths: Record<string, Record<string, Operation>>;
    }>();
    return doc.paths[path]?.[method];
  };

  it('documents the role and the 401/403/429 answers of /api routes', async () => {
    const retry = await operation('/api/v1/runs/{id}/retry', 'post');
    expect(Object.keys(retry?.responses ?? {})).toEqual(expect.arrayContaining(['401', '403', '429']));
    expect(retry?.description).toMatch(/role \*\*admin\*\*/);
    const preview = await operation('/api/v1/schedules/preview', 'post');
    expect(preview?.description).toMatch(/role \*\*read\*\*/);
    expect(Object.keys(preview?.responses ?? {})).not.toContain('403');
    const me = await operation('/api/v1/me', 'get');
    expect(Object.keys(me?.responses ?? {})).toEqual(expect.arrayContaining(['200', '401', '429']));
  });

  it('marks /healthz and /readyz public (security: [])', async () => {
    for (const path of ['/healthz', '/readyz']) expect((await operation(path, 'get'))?.security).toEqual([]);
  });
});

describe('the api process in production', () => {
  const spawnApi = (overrides: Record<string, string>) => {
    const service = spawnService('api', env.processEnv({ PORT: '0', NODE_ENV: 'production', ...overrides }));
    processes.push(service);
    return service;
  };

  it('refuses to start without any token, naming API_TOKEN and API_TOKENS', async () => {
    const service = spawnApi({});
    const { code } = await service.exited;
    expect(code, service.output()).toBe(1);
    expect(service.output()).toMatch(/API_TOKEN\b.*API_TOKENS/);
  }, 90_000);

  it('starts with only API_TOKENS, and never logs its secrets', async () => {
    const service = spawnApi({ API_TOKENS: TOKENS.API_TOKENS });
    await service.waitForOutput(/Server listening at http:\/\/127\.0\.0\.1:\d+/, 60_000);
    const base = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(service.output())![1]!;
    const me = await fetch(`${base}/api/v1/me`, {
      headers: { authorization: `Bearer ${DASH}` },
      signal: AbortSignal.timeout(10_000),
    });
    expect(await me.json()).toEqual({ name: 'dash', role: 'read', authenticated: true });
    service.kill('SIGTERM');
    expect((await service.exited).code, service.output()).toBe(0);
    for (const secret of [OPS, DASH]) expect(service.output()).not.toContain(secret);
  }, 90_000);
});
