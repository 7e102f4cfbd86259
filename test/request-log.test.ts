import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker, createLogger } from '@tickwork/core';
import { buildApp, type App } from '../apps/api/src/app.js';
import { requestLogLevel } from '../apps/api/src/request-log.js';
import { buildUi } from '../scripts/build-ui.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { waitFor } from './support/wait.js';

/**
 * The API's request lines at LOG_LEVEL=info: one line per request that changes something or fails, none
 * for what an open dashboard, a health check or a Prometheus scrape asks again and again (at debug).
 */

interface Line {
  level: number;
  msg: string;
  reqId?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
  responseTime?: number;
}

/** What the dashboard loads and polls (apps/api/ui/app.js), the health checks and the scrape. */
const POLLED = [
  '/ui',
  '/ui/',
  '/ui/app.js',
  '/ui/app.css',
  '/api/v1/runs?limit=50',
  '/api/v1/runs/counts',
  '/api/v1/queues',
  '/api/v1/workers',
  '/api/v1/schedules',
  '/healthz',
  '/readyz',
  '/metrics',
];

let env: TestEnv;
let broker: Broker;
const apps: App[] = [];

/** An API whose log lines (at `level`) land in the array it returns. */
async function loggedApi(level: string): Promise<{ api: App; lines: () => Line[] }> {
  const written: string[] = [];
  const logger = createLogger(
    { level, service: 'api' },
    { write: (line: string) => void written.push(line) },
  );
  const api = await buildApp({ pool: env.pool, broker, logger, config: env.config() });
  apps.push(api);
  return { api, lines: () => written.map((line) => JSON.parse(line) as Line) };
}

async function poll(api: App): Promise<void> {
  for (const url of POLLED) {
    const response = await api.inject({ method: 'GET', url });
    expect(response.statusCode, `GET ${url}: ${response.body.slice(0, 300)}`).toBeLessThan(400);
  }
}

beforeAll(async () => {
  [env] = await Promise.all([createTestEnv(), buildUi()]);
  broker = new Broker(env.amqpUrl, env.logger, 'test-request-log');
  broker.start();
  await waitFor(() => broker.isConnected, { what: 'the broker connection' });
});

afterAll(async () => {
  for (const api of apps) await api.close();
  await broker?.stop();
  await env?.cleanup();
});

describe('at LOG_LEVEL=info', () => {
  it("logs nothing for the dashboard's files and polling, health checks and metrics", async () => {
    const { api, lines } = await loggedApi('info');
    for (let round = 0; round < 3; round++) await poll(api);
    expect(lines()).toEqual([]);
  });

  it('logs one line for a POST /api/v1/tasks, with its method, URL, status and time', async () => {
    const { api, lines } = await loggedApi('info');
    await poll(api);
    const accepted = await api.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { task: 'diag.echo', args: { logged: true }, delaySeconds: 3600 },
    });
    expect(accepted.statusCode, accepted.body).toBe(202);
    await poll(api);
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({
      level: 30,
      msg: 'request completed',
      req: { method: 'POST', url: '/api/v1/tasks' },
      res: { statusCode: 202 },
    });
    expect(lines()[0]?.responseTime).toEqual(expect.any(Number));
    expect(lines()[0]?.reqId).toEqual(expect.any(String));
  });

  it('logs a read that fails (4xx) at info', async () => {
    const { api, lines } = await loggedApi('info');
    for (const url of ['/api/v1/runs/999999999', '/ui/missing.js', '/api/v1/runs?limit=-1']) {
      const response = await api.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBeGreaterThanOrEqual(400);
    }
    expect(lines().map(({ level, msg, req, res }) => [level, msg, req?.url, res?.statusCode])).toEqual([
      [30, 'request completed', '/api/v1/runs/999999999', 404],
      [30, 'request completed', '/ui/missing.js', 404],
      [30, 'request completed', '/api/v1/runs?limit=-1', 400],
    ]);
  });
});

describe('at LOG_LEVEL=debug', () => {
  it('logs each polled request when it arrives and when it is answered', async () => {
    const { api, lines } = await loggedApi('debug');
    await poll(api);
    const requestLines = lines().filter((line) => line.req !== undefined);
    expect(requestLines.filter((line) => line.msg === 'incoming request')).toHaveLength(POLLED.length);
    const completed = requestLines.filter((line) => line.msg === 'request completed');
    expect(completed.map((line) => line.req?.url)).toEqual(POLLED);
    for (const line of completed) expect(line.level).toBe(20);
  });
});

describe('requestLogLevel', () => {
  it.each([
    ['GET', 200, 'debug'],
    ['HEAD', 304, 'debug'],
    ['GET', 302, 'debug'],
    ['POST', 202, 'info'],
    ['DELETE', 204, 'info'],
    ['PATCH', 200, 'info'],
    ['GET', 401, 'info'],
    ['GET', 404, 'info'],
    ['POST', 400, 'info'],
    ['GET', 503, 'warn'],
    ['POST', 500, 'warn'],
  ] as const)('%s answered %i: %s', (method, status, level) => {
    expect(requestLogLevel(method, status)).toBe(level);
  });
});
