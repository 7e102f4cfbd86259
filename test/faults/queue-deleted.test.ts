import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { management } from '../support/services.js';
import { enqueue, startStack, waitForStatus, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

/**
 * A task queue deleted by hand while everything is connected. RabbitMQ then drops (and confirms!)
 * messages routed to it, and cancels the consumers on it: without care, runs published meanwhile are
 * marked published with no message anywhere, and workers stop consuming that queue.
 */
let env: TestEnv;
let stack: Stack;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { overrides: { WORKER_CONCURRENCY: '4' } });
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

const queueUrl = () => `/api/queues/${encodeURIComponent(env.name)}/default`;

describe('a task queue deleted while services are connected', () => {
  it('loses no run published after the deletion, and workers consume the re-declared queue', async () => {
    const before = await enqueue(stack.api, { task: 'diag.echo', args: { n: 0 } });
    await waitForStatus(env, before.id, 'succeeded');

    const deleted = await management(env.managementUrl, 'DELETE', queueUrl());
    expect(deleted.ok).toBe(true);
    const runs = [];
    for (let n = 1; n <= 5; n++) runs.push(await enqueue(stack.api, { task: 'diag.echo', args: { n } }));

    // Someone declares the queue again (the API on the returned messages, the worker on reconnect).
    await waitFor(async () => (await management(env.managementUrl, 'GET', queueUrl())).ok, {
      timeoutMs: 15_000,
      what: 'the default queue to be declared again',
    });
    for (const run of runs) {
      const done = await waitForStatus(env, run.id, 'succeeded', 30_000);
      expect(done.attempts).toBe(1);
    }
  }, 60_000);
});
