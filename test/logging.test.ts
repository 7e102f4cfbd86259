import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unescape } from 'node:querystring';
import { Broker, createLogger, getRun, loadConfig, maskUrl } from '@tickwork/core';
import { buildApp } from '../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { spawnService, type ServiceProcess } from './support/processes.js';
import { management } from './support/services.js';
import { waitFor } from './support/wait.js';

/**
 * The contract: "Secrets never appear in logs". Every service runs as a real process at LOG_LEVEL=trace
 * with recognisable secrets in API_TOKEN, DATABASE_URL, AMQP_URL and RABBITMQ_MANAGEMENT_URL, through
 * good paths and failing connections; none of its output may contain any of them.
 */

const hex = () => randomBytes(6).toString('hex');
const SERVICES = ['api', 'worker', 'scheduler'] as const;
type Service = (typeof SERVICES)[number];

let env: TestEnv;
const apiToken = `TokSecret${hex()}`;
const readToken = `ReadTokSecret${hex()}`;
const metricsToken = `MetricsTokSecret${hex()}`;
const wrongToken = `WrongTok${hex()}`;
const amqpUser = `tw_log_${hex()}`;
const amqpPassword = `AmqpS3cret${hex()}`;
const wrongAmqpPassword = `WrongAmqpPw${hex()}`;
const deadDbPassword = `DeadDbPw${hex()}`;
let dbPassword = `S3cretDbPass${hex()}`;
let databaseUrl: string;
let amqpUrl: string;
let managementUrl: string;
let userCreated = false;
const processes: ServiceProcess[] = [];

/** Every string that must never reach a log, with a label for the failure message. */
const secrets = (): Array<[string, string]> => [
  ['API_TOKEN', apiToken],
  ['the read token of API_TOKENS', readToken],
  ['METRICS_TOKEN', metricsToken],
  ['the wrong bearer token', wrongToken],
  ['the DATABASE_URL password', dbPassword],
  ['the AMQP password', amqpPassword],
  ['the wrong AMQP password', wrongAmqpPassword],
  ['the unreachable DATABASE_URL password', deadDbPassword],
  ['the management Basic credentials', Buffer.from(`${amqpUser}:${amqpPassword}`).toString('base64')],
  ['the base64 of API_TOKEN', Buffer.from(apiToken).toString('base64')],
];

function expectNoSecrets(name: string, output: string): void {
  for (const [label, secret] of secrets()) {
    expect(output.includes(secret), `${label} appears in the output of ${name}:\n${output}`).toBe(false);
  }
}

function withCredentials(url: string, username: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(username);
  u.password = encodeURIComponent(password);
  return u.toString();
}

function start(service: Service, overrides: Record<string, string>): ServiceProcess {
  const proc = spawnService(
    service,
    env.processEnv({
      DATABASE_URL: databaseUrl,
      AMQP_URL: amqpUrl,
      RABBITMQ_MANAGEMENT_URL: managementUrl,
      API_TOKEN: apiToken,
      API_TOKENS: `dash:read:${readToken}`,
      METRICS_TOKEN: metricsToken,
      LOG_LEVEL: 'trace',
      HOST: '127.0.0.1',
      PORT: '0',
      ...overrides,
    }),
  );
  processes.push(proc);
  return proc;
}

/** SIGTERM, then SIGKILL if it has not exited within the deadline; resolves with all its output. */
async function stop(proc: ServiceProcess): Promise<string> {
  proc.kill('SIGTERM');
  const exit = await Promise.race([
    proc.exited,
    new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000).unref()),
  ]);
  if (exit === 'timeout') {
    proc.kill('SIGKILL');
    await proc.exited;
  }
  return proc.output();
}

async function listeningPort(api: ServiceProcess): Promise<number> {
  await api.waitForOutput(/Server listening at http:\/\/127\.0\.0\.1:\d+/, 60_000);
  return Number(/Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(api.output())![1]);
}

interface Answer {
  status: number;
  body: string;
}

async function call(
  port: number,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: response.status, body: await response.text() };
}

/** A TCP port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

beforeAll(async () => {
  env = await createTestEnv();
  // Trust auth ignores a password, so one can be added; a server that checks them has one already.
  const db = new URL(env.databaseUrl);
  if (db.password) dbPassword = decodeURIComponent(db.password);
  else db.password = dbPassword;
  databaseUrl = db.toString();

  // A RabbitMQ user of our own, so the AMQP and management passwords are recognisable.
  const user = await management(env.managementUrl, 'PUT', `/api/users/${amqpUser}`, {
    password: amqpPassword,
    tags: 'monitoring',
  });
  if (!user.ok) throw new Error(`cannot create RabbitMQ user: ${user.status}`);
  userCreated = true;
  const grant = await management(env.managementUrl, 'PUT', `/api/permissions/${env.name}/${amqpUser}`, {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
  if (!grant.ok) throw new Error(`cannot grant vhost permissions: ${grant.status}`);
  amqpUrl = withCredentials(env.amqpUrl, amqpUser, amqpPassword);
  managementUrl = withCredentials(env.managementUrl, amqpUser, amqpPassword);
});

afterAll(async () => {
  for (const proc of processes) proc.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  if (userCreated)
    await management(env.managementUrl, 'DELETE', `/api/users/${amqpUser}`).catch(() => undefined);
  await env?.cleanup();
});

describe('secrets never appear in logs', () => {
  it('the test can see a leak: the secrets are distinctive and in the services’ environment', () => {
    expect(databaseUrl).toContain(dbPassword);
    expect(amqpUrl).toContain(amqpPassword);
    expect(managementUrl).toContain(amqpPassword);
    for (const [, secret] of secrets()) expect(secret.length).toBeGreaterThanOrEqual(12);
    expect(() => expectNoSecrets('a leaky service', `{"msg":"token ${apiToken}"}`)).toThrow();
  });

  it('with good credentials: API requests (authorised, refused, 404, POST /tasks) and runs', async () => {
    const api = start('api', {});
    const worker = start('worker', {});
    const scheduler = start('scheduler', {});
    const port = await listeningPort(api);

    await waitFor(async () => (await call(port, 'GET', '/readyz')).status === 200, {
      timeoutMs: 60_000,
      what: 'the api to be ready',
    });
    await worker.waitForOutput(/worker started/, 60_000);
    await worker.waitForOutput(/connected to RabbitMQ/, 60_000);
    await scheduler.waitForOutput(/connected to RabbitMQ/, 60_000);

    expect((await call(port, 'GET', '/healthz')).status).toBe(200);
    expect((await call(port, 'GET', '/api/v1/runs', { token: apiToken })).status).toBe(200);
    expect((await call(port, 'GET', '/api/v1/runs', { token: wrongToken })).status).toBe(401);
    expect((await call(port, 'GET', '/api/v1/runs')).status).toBe(401);
    expect((await call(port, 'GET', `/api/v1/runs?token=x`, { token: `${apiToken}x` })).status).toBe(401);
    // Tokens in query strings are refused, and must not be logged either (Fastify logs req.url).
    expect((await call(port, 'GET', `/api/v1/runs?token=${apiToken}`)).status).toBe(401);
    expect(
      (await call(port, 'GET', `/api/v1/me?access_token=${readToken}`, { token: readToken })).status,
    ).toBe(200);
    expect((await call(port, 'GET', `/metrics?api_key=${metricsToken}`)).status).toBe(401);
    expect((await call(port, 'GET', '/metrics', { token: metricsToken })).status).toBe(200);
    expect((await call(port, 'GET', '/api/v1/queues', { token: apiToken })).status).toBe(200);
    expect((await call(port, 'GET', '/api/v1/workers', { token: apiToken })).status).toBe(200);
    expect((await call(port, 'GET', '/api/v1/no-such-thing', { token: apiToken })).status).toBe(404);
    expect((await call(port, 'GET', '/no-such-thing')).status).toBe(404);
    expect((await call(port, 'GET', '/api/v1/runs/999999999', { token: apiToken })).status).toBe(404);
    const invalid = await call(port, 'POST', '/api/v1/tasks', { token: apiToken, body: { task: 'no.such' } });
    expect(invalid.status).toBe(400);

    const now = await call(port, 'POST', '/api/v1/tasks', {
      token: apiToken,
      body: { task: 'diag.echo', args: { hello: 'logs' } },
    });
    expect(now.status, now.body).toBe(202);
    const later = await call(port, 'POST', '/api/v1/tasks', {
      token: apiToken,
      body: { task: 'diag.echo', args: { later: true }, delaySeconds: 1 },
    });
    expect(later.status, later.body).toBe(202);
    for (const answer of [now, later]) {
      const { id } = JSON.parse(answer.body) as { id: number };
      await waitFor(async () => (await getRun(env.pool, id))?.status === 'succeeded', {
        timeoutMs: 60_000,
        what: `run ${id} to succeed`,
      });
    }

    const outputs = { api: await stop(api), worker: await stop(worker), scheduler: await stop(scheduler) };
    // The logs are there (trace level), so absence of secrets means something.
    expect(outputs.api).toMatch(/incoming request/);
    expect(outputs.api).toMatch(/"statusCode":401/);
    for (const [name, output] of Object.entries(outputs)) expectNoSecrets(name, output);
  }, 240_000);

  it('with a wrong AMQP password: connection errors are logged without it', async () => {
    const wrongAmqp = withCredentials(env.amqpUrl, amqpUser, wrongAmqpPassword);
    const procs = SERVICES.map((service) => [service, start(service, { AMQP_URL: wrongAmqp })] as const);
    for (const [, proc] of procs) {
      // amqplib's error reads: Handshake terminated by server: 403 (ACCESS-REFUSED) ...
      await proc.waitForOutput(/cannot connect to RabbitMQ/, 60_000);
      await proc.waitForOutput(/ACCESS.REFUSED/, 60_000);
    }
    for (const [service, proc] of procs) {
      const output = await stop(proc);
      expect(output).toContain(amqpUser);
      expectNoSecrets(service, output);
    }
  }, 240_000);

  it('with PostgreSQL unreachable: connection errors are logged (and answered) without the password', async () => {
    const deadDb = `postgres://postgres:${deadDbPassword}@127.0.0.1:${await closedPort()}/tickwork`;
    const procs = SERVICES.map((service) => [service, start(service, { DATABASE_URL: deadDb })] as const);
    const api = procs.find(([service]) => service === 'api')![1];
    const port = await listeningPort(api);
    const ready = await call(port, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).not.toContain(deadDbPassword);
    const runs = await call(port, 'GET', '/api/v1/runs', { token: apiToken });
    expect(runs.status).toBeGreaterThanOrEqual(500);
    expect(runs.body).not.toContain(deadDbPassword);
    for (const [, proc] of procs) await proc.waitForOutput(/ECONNREFUSED/, 60_000);
    for (const [service, proc] of procs) expectNoSecrets(service, await stop(proc));
  }, 240_000);
});

describe('the logger', () => {
  const capture = () => {
    const lines: string[] = [];
    const logger = createLogger(
      { level: 'trace', service: 'test' },
      { write: (line: string) => lines.push(line) },
    );
    return { logger, text: () => lines.join('') };
  };

  it('redacts the authorization header, the whole loaded config and password fields', () => {
    const { logger, text } = capture();
    const config = loadConfig({
      API_TOKEN: apiToken,
      API_TOKENS: `dash:read:${readToken}`,
      METRICS_TOKEN: metricsToken,
      DATABASE_URL: `postgres://app:${dbPassword}@db.example/tickwork`,
      AMQP_URL: `amqp://app:${amqpPassword}@mq.example`,
      RABBITMQ_MANAGEMENT_URL: `http://app:${amqpPassword}@mq.example:15672`,
    });
    logger.info({ config }, 'configuration');
    logger.info({ req: { method: 'GET', headers: { authorization: `Bearer ${apiToken}` } } }, 'request');
    logger.info({ headers: { authorization: `Bearer ${apiToken}` } }, 'headers');
    logger.info({ password: dbPassword, user: { password: amqpPassword }, apiToken }, 'fields');
    expect(text()).toContain('configuration');
    expect(text()).toContain('[redacted]');
    expectNoSecrets('the in-process logger', text());
  });

  it('masks the password of a URL and keeps the rest', () => {
    const masked = maskUrl(`amqp://app:${amqpPassword}@mq.example:5672/vh`);
    expect(masked).not.toContain(amqpPassword);
    expect(masked).toBe('amqp://app:***@mq.example:5672/vh');
    expect(maskUrl('postgres://postgres@127.0.0.1:5432/tickwork')).toBe(
      'postgres://postgres@127.0.0.1:5432/tickwork',
    );
    expect(maskUrl(`not a url ${dbPassword}`)).not.toContain(dbPassword);
  });
});

describe("the API's request lines", () => {
  it('leave out credentials in query strings and any configured secret in the URL', async () => {
    const lines: string[] = [];
    const logger = createLogger(
      { level: 'info', service: 'api' },
      { write: (line: string) => lines.push(line) },
    );
    const broker = new Broker(env.amqpUrl, env.logger, 'test-log-api');
    broker.start();
    const config = env.config({
      API_TOKEN: apiToken,
      API_TOKENS: `dash:read:${readToken}`,
      METRICS_TOKEN: metricsToken,
    });
    const api = await buildApp({ pool: env.pool, broker, logger, config });
    // The secret's first character percent-encoded: the URL only shows the secret once decoded.
    const encoded = `%${apiToken.charCodeAt(0).toString(16)}${apiToken.slice(1)}`;
    const urls = [
      `/api/v1/runs?token=${apiToken}`,
      `/api/v1/runs?limit=5&access_token=${readToken}`,
      `/api/v1/runs?API_KEY=${metricsToken}&task=diag.echo`,
      `/api/v1/runs/${apiToken}`,
      `/api/v1/runs?cursor=${encoded}`,
      `/metrics?q=${metricsToken}`,
    ];
    try {
      for (const url of urls) await api.inject({ method: 'GET', url });
    } finally {
      await api.close();
      await broker.stop();
    }
    // Refused (401), so each is logged at info: one line per request, when it is answered.
    const completed = lines.filter((line) => line.includes('request completed'));
    expect(completed).toHaveLength(urls.length);
    const logged = completed.map((line) => (JSON.parse(line) as { req: { url: string } }).req.url);
    expect(logged).toEqual([
      '/api/v1/runs?token=[redacted]',
      '/api/v1/runs?limit=5&access_token=[redacted]',
      '/api/v1/runs?API_KEY=[redacted]&task=diag.echo',
      '/api/v1/runs/[redacted]',
      '[redacted]',
      '/metrics?q=[redacted]',
    ]);
    expectNoSecrets('the API', lines.join(''));
    expectNoSecrets('the API, percent-decoded', unescape(lines.join('')));
  });
});
