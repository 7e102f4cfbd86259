import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBotsConfig } from '@tickwork/bots';
import {
  Broker,
  contractOf,
  defineTask,
  getRun,
  loadTaskModules,
  TaskDefinitionError,
  type TaskDefinition,
} from '@tickwork/core';
import type { Worker } from '@tickwork/worker';
import { workerFromConfig } from '../apps/worker/src/create-worker.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { captureLogs, type LogLine } from './support/log-capture.js';
import { ROOT } from './support/processes.js';
import { enqueue, startStack, waitForStatus, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

/*
 * Hard time limits (issue 15, item 6): tasks with `isolation: 'thread' | 'process'` run in an isolate of
 * their own, which the worker terminates when the task outlives its timeout plus its grace. The tasks are
 * plain JavaScript (test/support/isolated-tasks.mjs), loaded as TASK_MODULES loads them, and run by a
 * real worker (in this process) against this file's own PostgreSQL database and RabbitMQ vhost.
 */

const TASKS_MODULE = './test/support/isolated-tasks.mjs';
const TASKS_URL = new URL('./support/isolated-tasks.mjs', import.meta.url).href;

let env: TestEnv;
let stack: Stack;
let worker: Worker;
let workerBroker: Broker;
let logs: LogLine[];

/** Defined in code: the isolate imports `module` and finds the task by its name. */
const namedTask = defineTask({
  name: 'iso.named',
  isolation: 'thread',
  module: TASKS_URL,
  maxRetries: 0,
  run: () => {
    throw new Error('an isolated task runs in its isolate, never in the worker');
  },
});

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { workers: 0 });
  const moduleTasks: TaskDefinition[] = [...(await loadTaskModules([TASKS_MODULE], ROOT)), namedTask];
  const captured = captureLogs('info');
  logs = captured.lines;
  // Room for a spinning task and the 20 short runs started while it spins; a short shutdown grace for
  // the last test.
  const config = env.config({
    WORKER_CONCURRENCY: '25',
    WORKER_PREFETCH: '25',
    WORKER_SHUTDOWN_GRACE_SECONDS: '1',
  });
  workerBroker = new Broker(config.amqpUrl, captured.logger, 'test-worker');
  worker = workerFromConfig(
    config,
    loadBotsConfig({}),
    { pool: env.pool, broker: workerBroker, logger: captured.logger },
    moduleTasks,
  );
  await worker.start();
  await workerBroker.waitUntilConnected(15_000);
});

afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
  await env?.cleanup();
});

interface AttemptRow {
  attempt: number;
  outcome: string;
  error: { type: string; message: string } | null;
  startedAt: Date;
  finishedAt: Date;
}

/** The ended attempts of a run, as PostgreSQL recorded them (run_attempts). */
async function attemptsOf(runId: number): Promise<AttemptRow[]> {
  const { rows } = await env.pool.query<AttemptRow>(
    `SELECT attempt, outcome, error, started_at AS "startedAt", finished_at AS "finishedAt"
     FROM run_attempts WHERE run_id = $1 ORDER BY attempt`,
    [runId],
  );
  return rows;
}

/** The worker's log lines about run `runId` (the isolate's own lines carry the run's fields too). */
const linesOf = (runId: number) => logs.filter((line) => line.runId === runId);

const ms = (from: Date, to: Date) => to.getTime() - from.getTime();

describe('isolation', () => {
  it('terminates a CPU-bound task after its limit plus the grace, while other tasks keep finishing', async () => {
    // iso.spin: `for (;;) {}` on a worker thread, timeoutSeconds 1, terminateGraceSeconds 5, maxRetries 1.
    const spin = await enqueue(stack.api, { task: 'iso.spin' });
    await waitFor(() => linesOf(spin.id).some((line) => line.msg === 'spinning'), {
      timeoutMs: 20_000,
      what: 'iso.spin to start spinning',
    });

    // Meanwhile the worker's own thread is free: 20 short runs started during the spin all finish.
    const response = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/tasks/batch',
      payload: { tasks: Array.from({ length: 20 }, (_, i) => ({ task: 'diag.echo', args: { i } })) },
    });
    expect(response.statusCode, response.body).toBe(202);
    const shortIds = response.json<{ runs: Array<{ id: number }> }>().runs.map((r) => r.id);
    const short = await Promise.all(shortIds.map((id) => waitForStatus(env, id, 'succeeded', 20_000)));

    const failed = await waitForStatus(env, spin.id, 'failed', 60_000);
    expect(failed.attempts).toBe(2);
    expect(failed.error).toMatchObject({
      type: 'TaskTimeoutError',
      message: 'task timed out after 1s (terminated)',
    });
    const [first, second] = await attemptsOf(spin.id);
    if (!first || !second) throw new Error('two ended attempts expected');
    for (const attempt of [first, second]) {
      expect(attempt.outcome).toBe('failed');
      expect(attempt.error).toMatchObject({
        type: 'TaskTimeoutError',
        message: 'task timed out after 1s (terminated)',
      });
      // Its limit (1 s) plus its grace (5 s), and not much more.
      const lasted = ms(attempt.startedAt, attempt.finishedAt);
      expect(lasted).toBeGreaterThanOrEqual(6000 - 100);
      expect(lasted).toBeLessThan(6000 + 8000);
    }
    // The retry started only once the first attempt's isolate was terminated and its failure stored.
    expect(second.startedAt.getTime()).toBeGreaterThanOrEqual(first.finishedAt.getTime());

    // Every short run was started during the first attempt's spin and succeeded before it was terminated.
    for (const run of short) {
      expect(run.createdAt.getTime()).toBeGreaterThan(first.startedAt.getTime());
      expect(run.finishedAt?.getTime()).toBeLessThan(first.finishedAt.getTime());
    }
    const warned = linesOf(spin.id).filter((line) =>
      /ignored its signal; terminating its thread/.test(line.msg),
    );
    expect(warned).toHaveLength(2);
  }, 120_000);

  it('terminates a spinning child process the same way', async () => {
    const spin = await enqueue(stack.api, { task: 'iso.spin-process' });
    const failed = await waitForStatus(env, spin.id, 'failed', 30_000);
    expect(failed.error).toMatchObject({
      type: 'TaskTimeoutError',
      message: 'task timed out after 5s (terminated)',
    });
    expect(linesOf(spin.id).some((line) => line.msg === 'spinning')).toBe(true);
    const [attempt] = await attemptsOf(spin.id);
    // Its limit (5 s) plus its grace (1 s).
    expect(ms(attempt!.startedAt, attempt!.finishedAt)).toBeGreaterThanOrEqual(6000 - 100);
  }, 60_000);

  it('lets a task that honours its signal stop at its timeout, without terminating it', async () => {
    // iso.polite rejects with ctx.signal's reason; its grace (60 s) never comes into play.
    const polite = await enqueue(stack.api, { task: 'iso.polite' });
    const failed = await waitForStatus(env, polite.id, 'failed', 30_000);
    expect(failed.error).toMatchObject({ type: 'TaskTimeoutError', message: 'task timed out after 1s' });
    const [attempt] = await attemptsOf(polite.id);
    expect(ms(attempt!.startedAt, attempt!.finishedAt)).toBeLessThan(20_000);
  }, 60_000);

  it.each(['thread', 'process'])(
    'returns the result of a task run in a %s, with its log lines',
    async (kind) => {
      const accepted = await enqueue(stack.api, { task: `iso.echo-${kind}`, args: { title: 'report' } });
      const run = await waitForStatus(env, accepted.id, 'succeeded', 30_000);
      expect(run.result).toMatchObject({ args: { title: 'report' }, runId: accepted.id, attempt: 1 });
      // A thread of this process (the worker's), or a process of its own.
      if (kind === 'thread') expect(run.result).toMatchObject({ pid: process.pid, isMainThread: false });
      else {
        expect(run.result).toMatchObject({ isMainThread: true });
        expect(run.result).not.toMatchObject({ pid: process.pid });
      }
      // ctx.logger's lines reach the worker's logger, with the run's fields, the child's bindings and levels.
      const lines = linesOf(accepted.id);
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: 30,
          msg: 'hello from the isolate',
          marker: 'from-the-isolate',
          task: `iso.echo-${kind}`,
        }),
      );
      expect(lines).toContainEqual(
        expect.objectContaining({ level: 40, msg: 'a warning from a child logger', step: 'child' }),
      );
    },
  );

  it('finds a task defined in code by its name in the module it names', async () => {
    const accepted = await enqueue(stack.api, { task: 'iso.named', args: [1, 2] });
    const run = await waitForStatus(env, accepted.id, 'succeeded', 30_000);
    expect(run.result).toMatchObject({ found: 'by name', args: [1, 2], isMainThread: false });
  });

  it('records the error a task throws in its isolate, and its retryable: false', async () => {
    const accepted = await enqueue(stack.api, { task: 'iso.fail' });
    const run = await waitForStatus(env, accepted.id, 'failed', 30_000);
    expect(run.attempts).toBe(1);
    expect(run.error).toMatchObject({ type: 'ReportError', message: 'the report has no figures' });
  });

  it('fails the attempt, never the worker, when an isolate dies or its result cannot be stored', async () => {
    const cases = [
      {
        task: 'iso.exit',
        error: {
          type: 'IsolateCrashedError',
          message: "the task's process exited with code 3 before the task finished",
        },
      },
      {
        task: 'iso.uncaught',
        error: {
          type: 'IsolateCrashedError',
          message: "uncaught TypeError in the task's isolate: thrown from a timer",
        },
      },
      {
        task: 'iso.bigint',
        error: {
          type: 'UnstorableResultError',
          message:
            'result cannot be stored: it is not JSON-serialisable (Do not know how to serialize a BigInt)',
        },
      },
    ];
    const ids = await Promise.all(cases.map(async ({ task }) => (await enqueue(stack.api, { task })).id));
    for (const [i, id] of ids.entries()) {
      const run = await waitForStatus(env, id, 'failed', 30_000);
      expect(run.error).toMatchObject(cases[i]!.error);
    }
    const echo = await enqueue(stack.api, { task: 'diag.echo', args: { alive: true } });
    expect((await waitForStatus(env, echo.id, 'succeeded')).result).toEqual({ alive: true });
  }, 60_000);

  it('terminates the isolate of a cancelled run after its grace', async () => {
    const spin = await enqueue(stack.api, { task: 'iso.spin-long' });
    await waitFor(() => linesOf(spin.id).some((line) => line.msg === 'spinning'), {
      timeoutMs: 20_000,
      what: 'iso.spin-long to start spinning',
    });
    const cancel = await stack.api.inject({ method: 'POST', url: `/api/v1/runs/${spin.id}/cancel` });
    expect(cancel.statusCode, cancel.body).toBeLessThan(300);
    await waitForStatus(env, spin.id, 'cancelled', 20_000);
    const [attempt] = await attemptsOf(spin.id);
    expect(attempt?.outcome).toBe('cancelled');
    expect(linesOf(spin.id).some((line) => /terminating its thread/.test(line.msg))).toBe(true);
  }, 60_000);

  it("hands a run back when the worker stops, once the run's isolate is terminated", async () => {
    const spin = await enqueue(stack.api, { task: 'iso.spin-long' });
    await waitFor(() => linesOf(spin.id).some((line) => line.msg === 'spinning'), {
      timeoutMs: 20_000,
      what: 'iso.spin-long to start spinning',
    });
    const stopping = Date.now();
    // WORKER_SHUTDOWN_GRACE_SECONDS 1, then the task's terminateGraceSeconds 1.
    await worker.stop();
    expect(Date.now() - stopping).toBeLessThan(15_000);
    const run = await getRun(env.pool, spin.id);
    expect(run?.status).toBe('queued');
    const [attempt] = await attemptsOf(spin.id);
    expect(attempt?.outcome).toBe('released');
  }, 60_000);
});

describe('isolation options', () => {
  const base = { name: 'iso.options', run: () => undefined };

  it('stay out of the contract the API and the catalogue see', () => {
    const task = defineTask({ ...base, isolation: 'process', module: TASKS_URL });
    expect(task).toMatchObject({ isolation: 'process', module: TASKS_URL, terminateGraceSeconds: 5 });
    const contract = contractOf(task);
    expect(contract).not.toHaveProperty('isolation');
    expect(contract).not.toHaveProperty('module');
    expect(contract).not.toHaveProperty('terminateGraceSeconds');
  });

  it("come with TASK_MODULES' tasks, whose module is their file", async () => {
    const [spin] = await loadTaskModules([TASKS_MODULE], ROOT);
    expect(spin).toMatchObject({ name: 'iso.spin', isolation: 'thread', module: TASKS_URL });
    const dir = await mkdtemp(join(tmpdir(), 'tickwork-isolation-'));
    try {
      await writeFile(
        join(dir, 'bad.mjs'),
        "export default [{ name: 'bad.fork', isolation: 'fork', run: () => 1 }];",
      );
      await expect(loadTaskModules(['./bad.mjs'], dir)).rejects.toThrow(
        'TASK_MODULES: ./bad.mjs: task "bad.fork": isolation must be "thread" or "process"',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('take an absolute path as the module', () => {
    const task = defineTask({ ...base, isolation: 'thread', module: '/srv/tasks/report.js' });
    expect(task.module).toBe('file:///srv/tasks/report.js');
  });

  it.each([
    [{ isolation: 'thread' }, 'an isolated task needs module'],
    [{ isolation: 'thread', module: './tasks.js' }, 'an isolated task needs module'],
    [{ isolation: 'thread', module: 'https://example.com/tasks.js' }, 'an isolated task needs module'],
    [{ isolation: 'fork', module: TASKS_URL }, 'isolation must be "thread" or "process"'],
    [{ isolation: 'thread', module: TASKS_URL, terminateGraceSeconds: -1 }, 'terminateGraceSeconds must be'],
  ])('refuse %j', (options, message) => {
    const define = () => defineTask({ ...base, ...options } as Parameters<typeof defineTask>[0]);
    expect(define).toThrow(TaskDefinitionError);
    expect(define).toThrow(message);
  });
});
