import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBotsConfig } from '@tickwork/bots';
import { ConfigError, loadConfig } from '@tickwork/core';
import { spawnService, type ServiceProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

/** The defaults the contract's Configuration table promises. */
const CONTRACT_DEFAULTS = {
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/tickwork',
  amqpUrl: 'amqp://guest:guest@127.0.0.1:5672',
  rabbitmqManagementUrl: 'http://guest:guest@127.0.0.1:15672',
  port: 3000,
  host: '127.0.0.1',
  apiToken: undefined,
  // Unset: the worker service consumes default, cleanup and its tasks' queues, so default, cleanup and
  // scraping as the contract says (test/api-runs.test.ts sees a consumer on each).
  workerQueues: undefined,
  workerConcurrency: 4,
  logLevel: 'info',
};

/** Calls a loader and returns the ConfigError it throws (fails the test when it does not throw one). */
function configError(
  env: Record<string, string>,
  load: (env: Record<string, string>) => unknown = loadConfig,
): ConfigError {
  let thrown: unknown;
  try {
    load(env);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `${load.name}(${JSON.stringify(env)}) should throw`).toBeInstanceOf(ConfigError);
  return thrown as ConfigError;
}

describe('loadConfig defaults', () => {
  it("uses the contract's defaults for an empty environment", () => {
    expect(loadConfig({})).toMatchObject(CONTRACT_DEFAULTS);
  });

  it('treats empty and blank strings as unset', () => {
    const blank = {
      DATABASE_URL: '',
      AMQP_URL: '',
      RABBITMQ_MANAGEMENT_URL: '   ',
      PORT: '',
      HOST: '',
      API_TOKEN: '',
      WORKER_QUEUES: '',
      WORKER_CONCURRENCY: ' ',
      LOG_LEVEL: '',
    };
    expect(loadConfig(blank)).toMatchObject(CONTRACT_DEFAULTS);
  });

  it('reads every variable when it is set', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://app:pw@db.example:5433/jobs',
      AMQP_URL: 'amqps://app:pw@mq.example:5671/vh',
      RABBITMQ_MANAGEMENT_URL: 'https://app:pw@mq.example:15671',
      PORT: '8080',
      HOST: '0.0.0.0',
      API_TOKEN: 'a-token-of-sixteen-chars',
      WORKER_QUEUES: ' scraping , default,scraping ',
      WORKER_CONCURRENCY: '12',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      databaseUrl: 'postgresql://app:pw@db.example:5433/jobs',
      amqpUrl: 'amqps://app:pw@mq.example:5671/vh',
      rabbitmqManagementUrl: 'https://app:pw@mq.example:15671',
      port: 8080,
      host: '0.0.0.0',
      apiToken: 'a-token-of-sixteen-chars',
      workerQueues: ['scraping', 'default'],
      workerConcurrency: 12,
      logLevel: 'debug',
    });
  });

  it('accepts the boundaries of the numeric ranges', () => {
    expect(loadConfig({ PORT: '0' }).port).toBe(0);
    expect(loadConfig({ PORT: '65535' }).port).toBe(65535);
    expect(loadConfig({ WORKER_CONCURRENCY: '1' }).workerConcurrency).toBe(1);
    expect(loadConfig({ API_TOKEN: 'x'.repeat(16) }).apiToken).toBe('x'.repeat(16));
  });
});

/** The bots extension's variables (@tickwork/bots' loadBotsConfig; the engine's loadConfig ignores them). */
describe('loadBotsConfig', () => {
  it("uses the contract's REDDIT_BASE_URL by default, also for a blank value, and reads a set one", () => {
    expect(loadBotsConfig({}).reddit.baseUrl).toBe('https://www.reddit.com');
    expect(loadBotsConfig({ REDDIT_BASE_URL: '' }).reddit.baseUrl).toBe('https://www.reddit.com');
    expect(loadBotsConfig({ REDDIT_BASE_URL: 'http://127.0.0.1:9999' }).reddit.baseUrl).toBe(
      'http://127.0.0.1:9999',
    );
  });

  it('sends a descriptive Reddit user agent and times requests out by default', () => {
    const defaults = loadBotsConfig({}).reddit;
    expect(defaults.userAgent).toMatch(/tickwork/);
    expect(defaults.timeoutMs).toBe(15_000);
    expect(
      loadBotsConfig({ REDDIT_USER_AGENT: 'linux:my-bot:1.0 (by /u/me)', REDDIT_TIMEOUT_MS: '500' }).reddit,
    ).toMatchObject({
      userAgent: 'linux:my-bot:1.0 (by /u/me)',
      timeoutMs: 500,
    });
  });

  const BAD_BOTS_VALUES: Record<string, string[]> = {
    REDDIT_BASE_URL: ['www.reddit.com', 'ftp://www.reddit.com'],
    REDDIT_TIMEOUT_MS: ['0', '-1', '1.5', 'slow'],
    REDDIT_USER_AGENT: ['x'.repeat(301)],
  };
  for (const [variable, values] of Object.entries(BAD_BOTS_VALUES)) {
    it.each(values)(`${variable}=%j throws a ConfigError naming ${variable}`, (value) => {
      const error = configError({ [variable]: value }, loadBotsConfig);
      expect(error.variable).toBe(variable);
      expect(error.message.startsWith(`${variable}`)).toBe(true);
    });
  }
});

/** For each variable, values that must stop a service at start. */
const BAD_VALUES: Record<string, string[]> = {
  DATABASE_URL: ['not a url', 'postgres//missing-colon', 'mysql://root@127.0.0.1/tickwork', 'http://x'],
  AMQP_URL: ['::::', 'http://x', 'postgres://guest@127.0.0.1:5672', 'amqp://host:99999'],
  RABBITMQ_MANAGEMENT_URL: ['nope', 'amqp://guest:guest@127.0.0.1:15672', 'ftp://x'],
  PORT: ['-1', '65536', '99999', '3000.5', 'abc', '3e3', '0x10'],
  WORKER_CONCURRENCY: ['-1', '0', '1.5', 'four'],
  WORKER_PREFETCH: ['0', '-3', 'many'],
  WORKER_SHUTDOWN_GRACE_SECONDS: ['-5', '2.5'],
  HEARTBEAT_INTERVAL_MS: ['-1', 'often'],
  RETRY_BACKOFF_BASE_MS: ['-1', '0', '1.1'],
  RETRY_BACKOFF_MAX_MS: ['-1', 'x'],
  DISPATCH_POLL_MS: ['-100', '0.5'],
  RUN_RETENTION_DAYS: ['-1', 'forever'],
  WORKER_QUEUES: ['amq.x', 'default,tickwork.dead', ',', ' , , ', 'a b', '-leading'],
  LOG_LEVEL: ['verbose', 'INFO-ish', 'warning'],
  LOG_FORMAT: ['text', 'JSON', 'pretty-json'],
  API_TOKEN: ['short', 'x'.repeat(15)],
  WEBHOOK_TIMEOUT_MS: ['0', '99', '300001', 'soon'],
  WEBHOOK_BACKOFF_BASE_MS: ['0', '-1', '1.5'],
  WEBHOOK_BACKOFF_MAX_MS: ['0', 'x'],
  WEBHOOK_MAX_ATTEMPTS: ['0', '1001', 'many'],
  WEBHOOK_CONCURRENCY: ['0', '-2', '1.5'],
  WEBHOOK_POLL_MS: ['0', '9', 'often'],
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: ['maybe', '2'],
};

describe('loadConfig rejects bad values', () => {
  for (const [variable, values] of Object.entries(BAD_VALUES)) {
    it.each(values)(`${variable}=%j throws a ConfigError naming ${variable}`, (value) => {
      const error = configError({ [variable]: value });
      expect(error.variable).toBe(variable);
      expect(error.message.startsWith(`${variable}`)).toBe(true);
    });
  }

  it('names an invalid queue in WORKER_QUEUES, and takes any valid name', () => {
    expect(configError({ WORKER_QUEUES: 'default,amq.emails' }).message).toContain('amq.emails');
    expect(loadConfig({ WORKER_QUEUES: 'default,emails.v2' }).workerQueues).toEqual(['default', 'emails.v2']);
  });

  it('rejects a WORKER_QUEUES that names no queue', () => {
    expect(configError({ WORKER_QUEUES: ',,' }).message).toMatch(/^WORKER_QUEUES/);
  });

  it('rejects WORKER_PREFETCH below WORKER_CONCURRENCY, and defaults it to WORKER_CONCURRENCY', () => {
    const error = configError({ WORKER_CONCURRENCY: '8', WORKER_PREFETCH: '4' });
    expect(error.message).toMatch(/^WORKER_PREFETCH/);
    expect(loadConfig({ WORKER_CONCURRENCY: '8' }).workerPrefetch).toBe(8);
    expect(loadConfig({ WORKER_CONCURRENCY: '8', WORKER_PREFETCH: '20' }).workerPrefetch).toBe(20);
  });

  it('rejects RETRY_BACKOFF_MAX_MS below RETRY_BACKOFF_BASE_MS', () => {
    const error = configError({ RETRY_BACKOFF_BASE_MS: '5000', RETRY_BACKOFF_MAX_MS: '1000' });
    expect(error.message).toMatch(/^RETRY_BACKOFF_MAX_MS/);
  });

  it('rejects WEBHOOK_BACKOFF_MAX_MS below WEBHOOK_BACKOFF_BASE_MS; webhook defaults ride out hours', () => {
    const error = configError({ WEBHOOK_BACKOFF_BASE_MS: '5000', WEBHOOK_BACKOFF_MAX_MS: '1000' });
    expect(error.message).toMatch(/^WEBHOOK_BACKOFF_MAX_MS/);
    expect(loadConfig({}).webhooks).toEqual({
      timeoutMs: 10_000,
      backoffBaseMs: 10_000,
      backoffMaxMs: 3_600_000,
      maxAttempts: 24,
      concurrency: 16,
      pollMs: 500,
      allowPrivateNetworks: false,
    });
    expect(loadConfig({ WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' }).webhooks.allowPrivateNetworks).toBe(true);
  });

  it('does not echo a URL (which may carry a password) in its message', () => {
    const error = configError({ DATABASE_URL: 'mysql://root:VerySecretPw@db/x' });
    expect(error.message).not.toContain('VerySecretPw');
  });
});

/** A TCP port that counts every connection made to it: proof that a service never connected. */
interface Trap {
  port: number;
  connections: number;
  close(): Promise<void>;
}

async function openTrap(): Promise<Trap> {
  const sockets = new Set<Socket>();
  const trap = { port: 0, connections: 0, close: () => Promise.resolve() };
  const server: Server = createServer((socket) => {
    trap.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('trap has no port');
  trap.port = address.port;
  trap.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return trap;
}

describe('services refuse to start with a bad value', () => {
  let trap: Trap;
  const started: ServiceProcess[] = [];

  beforeAll(async () => {
    trap = await openTrap();
  });

  afterAll(async () => {
    for (const p of started) p.kill('SIGKILL');
    await trap?.close();
  });

  /** Everything a service would connect to points at the trap; `bad` overrides one variable. */
  const envWith = (bad: Record<string, string>) => ({
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NODE_ENV: 'test',
    DATABASE_URL: `postgres://postgres@127.0.0.1:${trap.port}/tickwork`,
    AMQP_URL: `amqp://guest:guest@127.0.0.1:${trap.port}`,
    RABBITMQ_MANAGEMENT_URL: `http://guest:guest@127.0.0.1:${trap.port}`,
    PORT: '0',
    ...bad,
  });

  const cases: Array<['api' | 'scheduler' | 'worker', Record<string, string>, string]> = [
    ['worker', { WORKER_CONCURRENCY: '-1' }, 'WORKER_CONCURRENCY'],
    ['worker', { WORKER_QUEUES: 'default,amq.emails' }, 'WORKER_QUEUES'],
    ['worker', { AMQP_URL: 'http://x' }, 'AMQP_URL'],
    ['scheduler', { DATABASE_URL: 'not-a-url' }, 'DATABASE_URL'],
    ['scheduler', { AMQP_URL: 'http://x' }, 'AMQP_URL'],
    ['scheduler', { DISPATCH_POLL_MS: '-1' }, 'DISPATCH_POLL_MS'],
    ['api', { PORT: '99999' }, 'PORT'],
    ['api', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ['api', { API_TOKEN: 'short' }, 'API_TOKEN'],
    ['api', { RABBITMQ_MANAGEMENT_URL: 'amqp://x' }, 'RABBITMQ_MANAGEMENT_URL'],
    ['api', { NODE_ENV: 'production' }, 'API_TOKEN'],
  ];

  it.each(cases)(
    '%s with %j exits with code 1 naming %s, without connecting anywhere',
    async (service, bad, variable) => {
      const before = trap.connections;
      const proc = spawnService(service, envWith(bad));
      started.push(proc);
      const exit = await Promise.race([
        proc.exited,
        new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 45_000).unref()),
      ]);
      expect(exit, `the ${service} should have exited; output:\n${proc.output()}`).not.toBe('timeout');
      expect(exit).toEqual({ code: 1, signal: null });
      expect(proc.output()).toContain(variable);
      expect(proc.output()).toMatch(/invalid configuration/);
      expect(trap.connections - before, 'connections the service made before exiting').toBe(0);
    },
    60_000,
  );

  it('(control) a service with a good configuration does connect to the trap', async () => {
    const before = trap.connections;
    const proc = spawnService('worker', envWith({}));
    started.push(proc);
    await waitFor(() => trap.connections > before, {
      timeoutMs: 45_000,
      what: `the worker to connect to the trap; output:\n${proc.output()}`,
    });
    proc.kill('SIGKILL');
    await proc.exited;
  }, 60_000);
});

describe('LOG_FORMAT', () => {
  it('is auto by default, json with NODE_ENV=production, and whatever is set otherwise', () => {
    expect(loadConfig({}).logFormat).toBe('auto');
    expect(loadConfig({ LOG_FORMAT: 'auto', NODE_ENV: 'development' }).logFormat).toBe('auto');
    expect(loadConfig({ NODE_ENV: 'production', API_TOKEN: 'x'.repeat(16) }).logFormat).toBe('json');
    expect(loadConfig({ NODE_ENV: 'production', LOG_FORMAT: 'auto' }).logFormat).toBe('json');
    expect(loadConfig({ NODE_ENV: 'production', LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadConfig({ LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadConfig({ LOG_FORMAT: ' pretty ' }).logFormat).toBe('pretty');
  });

  it('names the accepted values when it has a bad one', () => {
    expect(configError({ LOG_FORMAT: 'text' }).message).toBe('LOG_FORMAT: must be one of auto, json, pretty');
  });
});
