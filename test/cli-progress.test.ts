import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '@tickwork/client';
import type { Worker } from '@tickwork/worker';
import { main } from '../packages/cli/src/main.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { createProgressGates, progressTasks, releaseStep } from './support/progress-tasks.js';
import { startStack, startWorker, type Stack } from './support/stack.js';
import { ttlTasks } from './support/ttl-tasks.js';
import { waitFor } from './support/wait.js';

/*
 * The CLI's view of progress and result TTLs (issue 16): `runs show` and `runs ls` print what a running
 * task reported, `enqueue --result-ttl` sets a run's TTL and `tasks` shows the tasks' own. The CLI's
 * main() against an in-process API listening on a port (test/cli.test.ts runs the bin as a process).
 */

let env: TestEnv;
let stack: Stack;
let worker: Worker;
let url: string;

beforeAll(async () => {
  env = await createTestEnv();
  await createProgressGates(env.pool);
  stack = await startStack(env, { workers: 0 });
  worker = await startWorker(env, { WORKER_PROGRESS_INTERVAL_MS: '100' }, [
    ...progressTasks(env.pool),
    ...ttlTasks,
  ]);
  await stack.api.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(stack.api.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await worker?.stop();
  await stack?.stop();
  await env?.cleanup();
});

async function tickwork(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    env: { TICKWORK_URL: url },
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

/** `runs show <id> --json`, parsed. */
const shownRun = async (id: number) =>
  JSON.parse((await tickwork('runs', 'show', String(id), '--json')).stdout) as Run;

describe('the CLI', { timeout: 60_000 }, () => {
  it('prints a running task’s progress in runs show and runs ls, and its TTL', async () => {
    const enqueued = await tickwork(
      'enqueue',
      'progress.steps',
      '--args',
      '{"steps":4}',
      '--result-ttl',
      '90000',
      '--json',
    );
    expect(enqueued.code, enqueued.stderr).toBe(0);
    const run = JSON.parse(enqueued.stdout) as Run;
    expect(run.resultTtlSeconds).toBe(90_000);
    await releaseStep(env.pool, run.id, 2);
    await waitFor(async () => (await shownRun(run.id)).progress?.done === 3, { what: 'step 3 reported' });

    const shown = await tickwork('runs', 'show', String(run.id));
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^progress +\[#{15}·{5}\] 3\/4 \(75%\) · step 3 of 4$/m);
    expect(shown.stdout).toMatch(/^ +\(reported \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\)$/m);
    expect(shown.stdout).toMatch(/^kept +1d1h once finished$/m);

    const listed = await tickwork('runs', 'ls', '--task', 'progress.steps');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^ID +TASK +STATUS +QUEUE +ATTEMPTS +CREATED +DURATION +PROGRESS$/m);
    expect(listed.stdout).toMatch(
      new RegExp(`^${run.id} +progress\\.steps +running +default +1 +.+ +3/4 \\(75%\\) step 3 of 4$`, 'm'),
    );

    await releaseStep(env.pool, run.id, 4);
    await waitFor(async () => (await shownRun(run.id)).status === 'succeeded', {
      what: 'the run to succeed',
    });
    const finished = await tickwork('runs', 'show', String(run.id));
    expect(finished.stdout).toMatch(/^progress +\[#{20}\] 4\/4 \(100%\) · step 4 of 4$/m);
  });

  it('lists no PROGRESS column when no listed run reported any, and refuses a bad --result-ttl', async () => {
    const plain = await tickwork('enqueue', 'diag.echo', '--wait');
    expect(plain.code, plain.stderr).toBe(0);
    const listed = await tickwork('runs', 'ls', '--task', 'diag.echo');
    expect(listed.stdout).toMatch(/^ID +TASK +STATUS +QUEUE +ATTEMPTS +CREATED +DURATION$/m);

    const bad = await tickwork('enqueue', 'diag.echo', '--result-ttl', '1.5');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--result-ttl must be an integer from 0 to 315360000, not 1.5');
  });

  it("shows the tasks' result TTLs", async () => {
    const tasks = await tickwork('tasks');
    expect(tasks.code, tasks.stderr).toBe(0);
    expect(tasks.stdout).toMatch(/^TASK +QUEUE +RETRIES +TIMEOUT +WORKERS +KEPT +DESCRIPTION$/m);
    expect(tasks.stdout).toMatch(/^ttl\.week +default +0 +300s +1 +7d +Kept a week/m);
    expect(tasks.stdout).toMatch(/^ttl\.short +default +0 +300s +1 +1s +Kept a second/m);
    expect(tasks.stdout).toMatch(/^diag\.echo +default +3 +60s +1 +- /m);
  });
});
