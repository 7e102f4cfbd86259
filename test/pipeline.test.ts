import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from './support/env.js';
import { enqueue, startStack, waitForStatus, type Stack } from './support/stack.js';

let env: TestEnv;
let stack: Stack;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

describe('the run pipeline', () => {
  it('runs diag.echo to succeeded with its args as the result', async () => {
    const accepted = await enqueue(stack.api, { task: 'diag.echo', args: { hello: 'world', n: [1, 2] } });
    expect(accepted.status).toBe('queued');
    const run = await waitForStatus(env, accepted.id, 'succeeded');
    expect(run.result).toEqual({ hello: 'world', n: [1, 2] });
    expect(run.attempts).toBe(1);
    expect(run.workerId).toBe(stack.workers[0]!.id);
    const response = await stack.api.inject({ method: 'GET', url: `/api/v1/runs/${accepted.id}` });
    expect(response.json()).toMatchObject({
      id: accepted.id,
      status: 'succeeded',
      result: { hello: 'world', n: [1, 2] },
    });
  });

  it('holds a delayed task as scheduled, then runs it when due', async () => {
    const accepted = await enqueue(stack.api, { task: 'diag.echo', args: 1, delaySeconds: 1 });
    expect(accepted.status).toBe('scheduled');
    const run = await waitForStatus(env, accepted.id, 'succeeded');
    expect(run.startedAt!.getTime()).toBeGreaterThanOrEqual(run.dueAt.getTime());
  });

  it('retries diag.flaky with backoff until it succeeds', async () => {
    const accepted = await enqueue(stack.api, { task: 'diag.flaky', args: { failUntilAttempt: 3 } });
    const run = await waitForStatus(env, accepted.id, 'succeeded');
    expect(run.attempts).toBe(3);
    expect(run.result).toEqual({ attempt: 3 });
  });

  it('fails a run for good once its retries are spent, keeping the last error', async () => {
    const accepted = await enqueue(stack.api, {
      task: 'diag.flaky',
      args: { failUntilAttempt: 10 },
      maxRetries: 2,
    });
    const run = await waitForStatus(env, accepted.id, 'failed');
    expect(run.attempts).toBe(3);
    expect(run.error).toMatchObject({
      type: 'RetryableTaskError',
      message: 'flaky failure on attempt 3 of 10',
    });
  });
});
