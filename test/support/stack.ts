import { Broker, brokerOptions, contractOf, type RunRow, type TaskDefinition, getRun } from '@tickwork/core';
import { loadBotsConfig } from '@tickwork/bots';
import { botsApiExtension } from '@tickwork/bots/api';
import { buildApp, type App } from '../../apps/api/src/app.js';
import { Dispatcher } from '../../apps/scheduler/src/dispatcher.js';
import { workerFromConfig } from '../../apps/worker/src/create-worker.js';
import type { Worker } from '@tickwork/worker';
import { diagRecordTask } from './diag-record.js';
import type { TestEnv } from './env.js';
import { waitFor } from './wait.js';

/** The three services, built in-process from their factories against a test's own database and vhost. */
export interface Stack {
  api: App;
  apiBroker: Broker;
  dispatcher?: Dispatcher;
  workers: Worker[];
  stop(): Promise<void>;
}

export async function startApi(
  env: TestEnv,
  overrides: Record<string, string> = {},
): Promise<{ api: App; broker: Broker }> {
  const config = env.config(overrides);
  const broker = new Broker(config.amqpUrl, env.logger, 'test-api', brokerOptions(config));
  broker.start();
  await broker.waitUntilConnected(15_000);
  // The API as main.ts composes it: the engine and the bots extension. With diag tasks on, it accepts
  // diag.record (test support) before any worker serving it has registered, as TASK_MODULES would.
  const api = await buildApp({
    pool: env.pool,
    broker,
    logger: env.logger,
    config,
    contracts: config.diagTasks ? [contractOf(diagRecordTask(env.pool))] : [],
    extensions: [botsApiExtension],
  });
  await api.ready();
  return { api, broker };
}

export async function startWorker(
  env: TestEnv,
  overrides: Record<string, string> = {},
  /** Tasks besides the service's own, as TASK_MODULES would add them. */
  moduleTasks: readonly TaskDefinition[] = [],
): Promise<Worker> {
  const config = env.config(overrides);
  const broker = new Broker(config.amqpUrl, env.logger, 'test-worker', brokerOptions(config));
  const bots = loadBotsConfig(env.processEnv(overrides));
  // With diag tasks on, diag.record too: test support, no longer the worker service's (issue 14).
  const worker = workerFromConfig(config, bots, { pool: env.pool, broker, logger: env.logger }, [
    ...(config.diagTasks ? [diagRecordTask(env.pool)] : []),
    ...moduleTasks,
  ]);
  await worker.start();
  await broker.waitUntilConnected(15_000);
  return worker;
}

export async function startDispatcher(
  env: TestEnv,
  overrides: Record<string, string> = {},
): Promise<Dispatcher> {
  const config = env.config(overrides);
  const broker = new Broker(config.amqpUrl, env.logger, 'test-dispatcher', brokerOptions(config));
  const dispatcher = new Dispatcher({
    pool: env.pool,
    broker,
    logger: env.logger,
    databaseUrl: config.databaseUrl,
    pollMs: config.dispatchPollMs,
  });
  dispatcher.start();
  await broker.waitUntilConnected(15_000);
  return dispatcher;
}

/** API + dispatcher + `workers` workers (default one). */
export async function startStack(
  env: TestEnv,
  options: { workers?: number; dispatcher?: boolean; overrides?: Record<string, string> } = {},
): Promise<Stack> {
  const overrides = options.overrides ?? {};
  const { api, broker } = await startApi(env, overrides);
  const dispatcher = options.dispatcher === false ? undefined : await startDispatcher(env, overrides);
  const workers: Worker[] = [];
  for (let i = 0; i < (options.workers ?? 1); i++) workers.push(await startWorker(env, overrides));
  return {
    api,
    apiBroker: broker,
    dispatcher,
    workers,
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
      await dispatcher?.stop();
      await api.close();
      await broker.stop();
    },
  };
}

/** Posts a task through the API and returns the run it answered with. */
export async function enqueue(api: App, body: Record<string, unknown>): Promise<RunRowLike> {
  const response = await api.inject({ method: 'POST', url: '/api/v1/tasks', payload: body });
  if (response.statusCode !== 202)
    throw new Error(`POST /tasks answered ${response.statusCode}: ${response.body}`);
  return response.json<RunRowLike>();
}

export interface RunRowLike {
  id: number;
  status: string;
  attempts: number;
  result: unknown;
  error: { type: string; message: string } | null;
  [key: string]: unknown;
}

/** Waits until run `id` reaches `status` (as stored in PostgreSQL) and returns it. */
export function waitForStatus(env: TestEnv, id: number, status: string, timeoutMs = 15_000): Promise<RunRow> {
  return waitFor(
    async () => {
      const run = await getRun(env.pool, id);
      return run?.status === status ? run : undefined;
    },
    { timeoutMs, what: `run ${id} to be ${status}` },
  );
}
