import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveMetrics, type Broker, type MetricsServer } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { spawnService, type ServiceProcess } from './support/processes.js';
import { startApi } from './support/stack.js';

/**
 * METRICS_TOKEN: with it, every /metrics (the API's, and the scheduler's and workers' METRICS_PORT
 * servers) wants `Authorization: Bearer <METRICS_TOKEN>` and answers 401 otherwise; without it they
 * are open, as before. The API's own tokens are not metrics tokens, nor the other way round.
 */
const METRICS_TOKEN = 'tw-metrics-token-0123456789abcdef';
const API_TOKEN = 'tw-metrics-api-0123456789abcdefgh';

let env: TestEnv;
const apis: Array<{ api: App; broker: Broker }> = [];
const servers: MetricsServer[] = [];
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  for (const p of processes) p.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await Promise.all(servers.map((s) => s.close()));
  for (const { api, broker } of apis) {
    await api.close();
    await broker.stop();
  }
  await env?.cleanup();
});

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

async function api(overrides: Record<string, string>): Promise<App> {
  const started = await startApi(env, { API_TOKEN, ...overrides });
  apis.push(started);
  return started.api;
}

async function metricsServer(token?: string): Promise<string> {
  const server = await serveMetrics(0, '127.0.0.1', env.logger, { token });
  servers.push(server);
  return `http://127.0.0.1:${server.port}/metrics`;
}

/** A port that was free a moment ago (METRICS_PORT=0 means no metrics server). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const scrape = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, { headers, signal: AbortSignal.timeout(15_000) });

describe('the API /metrics', () => {
  it('with METRICS_TOKEN: 401 problem+json without it or with another token, 200 with it', async () => {
    const app = await api({ METRICS_TOKEN });
    for (const headers of [
      {},
      bearer(API_TOKEN),
      bearer(`${METRICS_TOKEN}x`),
      { authorization: METRICS_TOKEN },
    ]) {
      const refused = await app.inject({ method: 'GET', url: '/metrics', headers });
      expect(refused.statusCode, JSON.stringify(headers)).toBe(401);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json\b/);
      expect(String(refused.headers['www-authenticate'])).toMatch(/^Bearer\b/);
      expect(refused.body).not.toContain('tickwork_');
    }
    const allowed = await app.inject({ method: 'GET', url: '/metrics', headers: bearer(METRICS_TOKEN) });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.body).toMatch(/^tickwork_http_requests_total\{/m);
    // The metrics token opens /metrics only, not the API.
    const runs = await app.inject({ method: 'GET', url: '/api/v1/runs', headers: bearer(METRICS_TOKEN) });
    expect(runs.statusCode).toBe(401);
  });

  it('without METRICS_TOKEN: open, whatever Authorization is sent', async () => {
    const app = await api({});
    for (const headers of [{}, bearer('anything-at-all-0123456789')]) {
      const response = await app.inject({ method: 'GET', url: '/metrics', headers });
      expect(response.statusCode).toBe(200);
      expect(response.body).toMatch(/^tickwork_/m);
    }
  });
});

describe('the METRICS_PORT server (scheduler and workers)', () => {
  it('with a token: 401 without it, 200 with it', async () => {
    const url = await metricsServer(METRICS_TOKEN);
    for (const headers of [{}, bearer('not-the-metrics-token-012345')]) {
      const refused = await scrape(url, headers);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      expect(await refused.text()).not.toContain('tickwork_');
    }
    const allowed = await scrape(url, bearer(METRICS_TOKEN));
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toMatch(/^tickwork_process_cpu/m);
  });

  it('without a token: open', async () => {
    const response = await scrape(await metricsServer());
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/^tickwork_/m);
  });

  it('is what a worker process serves with METRICS_TOKEN set', async () => {
    const port = await freePort();
    const worker = spawnService(
      'worker',
      env.processEnv({ METRICS_PORT: String(port), METRICS_TOKEN, HOST: '127.0.0.1' }),
    );
    processes.push(worker);
    await worker.waitForOutput(/serving Prometheus metrics/, 60_000);
    const url = `http://127.0.0.1:${port}/metrics`;
    expect((await scrape(url)).status).toBe(401);
    expect((await scrape(url, bearer(METRICS_TOKEN))).status).toBe(200);
    worker.kill('SIGTERM');
    expect((await worker.exited).code, worker.output()).toBe(0);
    expect(worker.output()).not.toContain(METRICS_TOKEN);
  }, 90_000);
});
