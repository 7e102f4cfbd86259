import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadTaskModules, type TaskDefinition } from '@tickwork/core';
import type { Worker } from '@tickwork/worker';
import { createTestEnv, type TestEnv } from './support/env.js';
import { enqueue, startStack, startWorker, waitForStatus, type Stack } from './support/stack.js';

const root = fileURLToPath(new URL('..', import.meta.url));
let env: TestEnv;
let stack: Stack;
let worker: Worker;
let tasks: TaskDefinition[];

beforeAll(async () => {
  env = await createTestEnv();
  // As api and worker do at start: TASK_MODULES, relative to the working directory.
  tasks = await loadTaskModules(
    env.config({ TASK_MODULES: './examples/tasks/greetings.mjs' }).taskModules,
    root,
  );
  // The API is started without the module: it learns the tasks from the catalogue the worker writes.
  stack = await startStack(env, { workers: 0 });
  worker = await startWorker(env, {}, tasks);
});
afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
  await env?.cleanup();
});

describe('user-defined tasks (TASK_MODULES)', () => {
  it('runs a task from a user module, with the defaults it declares', async () => {
    const run = await enqueue(stack.api, { task: 'greetings.hello', args: { name: 'Ada' } });
    expect(run).toMatchObject({ queue: 'default', maxRetries: 2, timeoutSeconds: 30 });
    const done = await waitForStatus(env, run.id, 'succeeded');
    expect(done.result).toEqual({ greeting: 'Hello, Ada!', attempt: 1 });
  });

  it("refuses args that do not match the task's JSON Schema, naming the field", async () => {
    const response = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      payload: { task: 'greetings.hello', args: { name: '' } },
    });
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('args.name');
  });

  it('does not retry an error marked retryable: false', async () => {
    const run = await enqueue(stack.api, { task: 'greetings.refuse' });
    const failed = await waitForStatus(env, run.id, 'failed');
    expect(failed).toMatchObject({ attempts: 1, error: { type: 'Error', message: 'no greetings today' } });
  });

  it('names TASK_MODULES when a module is missing, malformed or redefines a task', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tickwork-tasks-'));
    writeFileSync(join(dir, 'not-a-list.mjs'), 'export default { name: "x" };');
    writeFileSync(join(dir, 'no-run.mjs'), 'export const tasks = [{ name: "a.b" }];');
    writeFileSync(join(dir, 'bad-queue.mjs'), 'export default [{ name: "a.b", queue: "amq.x", run() {} }];');
    for (const [module, message] of [
      ['./missing.mjs', /cannot import/],
      ['./not-a-list.mjs', /must export an array/],
      ['./no-run.mjs', /"a.b": has no run function/],
      ['./bad-queue.mjs', /"a.b": queue "amq.x" starts with "amq.", which is reserved/],
    ] as const) {
      const error = await loadTaskModules([module], dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/^TASK_MODULES/);
      expect((error as Error).message).toMatch(message);
    }
    writeFileSync(join(dir, 'clash.mjs'), 'export default [{ name: "diag.echo", run() {} }];');
    const clash = await loadTaskModules(['./clash.mjs'], dir);
    const error = await startWorker(env, {}, clash).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^TASK_MODULES: task "diag.echo" is defined twice/);
  });
});
