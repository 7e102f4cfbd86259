import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineTask } from '@tickwork/core';
import type { Worker } from '@tickwork/worker';
import { createTestEnv, type TestEnv } from './support/env.js';
import { enqueue, startStack, startWorker, waitForStatus, type Stack } from './support/stack.js';

/**
 * A task may return what PostgreSQL cannot store as given, or throw an error with such text. Successes
 * of concurrent attempts share one UPDATE: one bad result used to fail it again and again, stalling every
 * success in its batch. Now a bad result fails its own attempt, for good and with the reason, and an
 * error's text is made storable; the good tasks beside them succeed.
 */

let env: TestEnv;
let stack: Stack;
let worker: Worker;

const nested = (depth: number): unknown => {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = [value];
  return value;
};

class Money {
  constructor(private readonly cents: number) {}
  // What JSON.stringify stores is this, which the value itself does not show.
  toJSON(): string {
    return `${this.cents}\u0000cents`;
  }
}

const BAD: Record<string, { value: () => unknown; message: string | RegExp }> = {
  'bad.nul': {
    value: () => ({ a: { b: 'x\u0000y' } }),
    message: 'result cannot be stored: result.a.b contains a NUL character (\\u0000), which cannot be stored',
  },
  'bad.surrogate': {
    value: () => ({ list: ['ok', 'lone \ud800 surrogate'] }),
    message: /^result cannot be stored: result\.list\[1\] contains a lone UTF-16 surrogate/,
  },
  'bad.key': {
    value: () => ({ ['k\u0000']: 1 }),
    message: /^result cannot be stored: result\["k\\u0000"\] has a key/,
  },
  'bad.deep': { value: () => nested(100), message: /nests deeper than 64 levels/ },
  'bad.very-deep': { value: () => nested(200_000), message: /nests deeper than 64 levels/ },
  'bad.huge': {
    value: () => ({ blob: 'x'.repeat(3 * 1024 * 1024) }),
    message: 'result cannot be stored: it is 3,145,739 bytes as JSON; RESULT_MAX_BYTES is 1,048,576',
  },
  'bad.bigint': {
    value: () => ({ n: 10n }),
    message: /^result cannot be stored: it is not JSON-serialisable/,
  },
  'bad.tojson': { value: () => ({ price: new Money(250) }), message: /result\.price contains a NUL/ },
};

const errorText = `bad\u0000text \ud800 ${'e'.repeat(100_000)}`;

const tasks = [
  defineTask({ name: 'good.echo', maxRetries: 0, run: (args) => args }),
  ...Object.entries(BAD).map(([name, bad]) => defineTask({ name, maxRetries: 3, run: bad.value })),
  defineTask({
    name: 'bad.error-text',
    maxRetries: 0,
    run: () => {
      const error = new Error(errorText);
      error.name = `Weird\u0000Error`;
      error.stack = `${errorText}\n${'    at somewhere\n'.repeat(5000)}`;
      throw error;
    },
  }),
];

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { workers: 0 });
  worker = await startWorker(env, { WORKER_CONCURRENCY: '16' }, tasks);
});

afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
  await env?.cleanup();
});

describe('results and errors a worker cannot store as given', () => {
  it('fail their own attempt, for good and saying why, while good tasks beside them succeed', async () => {
    const names = Object.keys(BAD);
    // Interleaved, so that bad and good results finish together and would share a success UPDATE.
    const accepted = await Promise.all(
      Array.from({ length: 3 }, (_, round) => [
        ...names.map((task) => enqueue(stack.api, { task }).then((run) => ({ task, run }))),
        ...Array.from({ length: 8 }, (_, i) =>
          enqueue(stack.api, { task: 'good.echo', args: { round, i } }).then((run) => ({
            task: 'good.echo',
            run,
          })),
        ),
      ]).flat(),
    );
    for (const { task, run } of accepted) {
      if (task === 'good.echo') {
        const done = await waitForStatus(env, run.id, 'succeeded', 30_000);
        expect(done.result).toEqual(run.args);
        continue;
      }
      const failed = await waitForStatus(env, run.id, 'failed', 30_000);
      const error = failed.error as { type: string; message: string };
      expect({ task, attempts: failed.attempts, type: error.type }).toEqual({
        task,
        attempts: 1,
        type: 'UnstorableResultError',
      });
      expect(error.message, task).toMatch(BAD[task]!.message);
      expect(failed.result).toBeNull();
    }
  });

  it("stores a task's error text with NUL and lone surrogates replaced, and cut to size with a note", async () => {
    const run = await enqueue(stack.api, { task: 'bad.error-text' });
    const failed = await waitForStatus(env, run.id, 'failed', 30_000);
    const error = failed.error as { type: string; message: string; stack: string };
    expect(error.type).toBe('Weird\uFFFDError');
    expect(error.message.startsWith('bad\uFFFDtext \uFFFD eee')).toBe(true);
    expect(error.message).toMatch(/… \[91,\d{3} more characters cut\]$/);
    expect(error.message.length).toBeLessThan(8 * 1024 + 50);
    expect(error.stack.length).toBeLessThan(16 * 1024 + 50);
    expect(error.stack).toMatch(/more characters cut\]$/);
    // The worker is free for more.
    const after = await enqueue(stack.api, { task: 'good.echo', args: { after: 'errors' } });
    await waitForStatus(env, after.id, 'succeeded', 20_000);
  });
});
