import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chain, chord, task, TickworkClient } from '@tickwork/client';
import { main } from '../packages/cli/src/main.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startStack, type Stack } from './support/stack.js';

/**
 * `tickwork workflows …` and `enqueue --depends-on` (the CLI's main, in-process, against a real API,
 * dispatcher and worker running the diag tasks), and the client's canvas builders.
 */
let env: TestEnv;
let stack: Stack;
let url: string;
const dir = mkdtempSync(join(tmpdir(), 'tickwork-cli-workflows-'));

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  await stack.api.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(stack.api.server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

async function tickwork(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    env: { TICKWORK_URL: url },
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

/** The JSON a command printed (after any line before it), as unknown until the test says what it expects. */
function jsonOf(stdout: string): unknown {
  const value: unknown = JSON.parse(stdout.slice(stdout.indexOf('{')));
  return value;
}

function specFile(name: string, spec: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(spec));
  return path;
}

describe('tickwork workflows', { timeout: 60_000 }, () => {
  it('starts a workflow from a file and waits for it, printing its tree and result', async () => {
    const file = specFile('chord.json', {
      name: 'cli chord',
      root: chord(
        [task('diag.echo', { n: 1 }), task('diag.echo', { n: 2 })],
        task('diag.echo', { last: true }),
      ),
    });
    const started = await tickwork(['workflows', 'start', file, '--wait', '--timeout', '30']);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toMatch(/Workflow \d+ "cli chord": succeeded \(3 runs: succeeded 3\)/);
    expect(started.stdout).toContain('chord');
    expect(started.stdout).toMatch(/run \d+ diag\.echo {2}succeeded {2}→ \{"n":1\}/);
    expect(started.stdout).toContain('Result: {"last":true}');

    const listed = await tickwork(['workflows', 'ls', '--status', 'succeeded']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('"cli chord": succeeded');
  });

  it('exits 3 for a failed workflow, and retries it to success', async () => {
    const file = specFile('chain.json', {
      type: 'chain',
      steps: [
        { type: 'task', task: 'diag.flaky', args: { failUntilAttempt: 2 }, maxRetries: 0 },
        { type: 'task', task: 'diag.echo', args: { after: 'flaky' } },
      ],
    });
    const failed = await tickwork(['workflows', 'start', file, '--wait', '--json']);
    expect(failed.code).toBe(3);
    const workflow = jsonOf(failed.stdout) as {
      id: number;
      status: string;
    };
    expect(workflow.status).toBe('failed');
    const shown = await tickwork(['workflows', 'show', String(workflow.id)]);
    expect(shown.stdout).toContain('DependencyFailed');
    const retried = await tickwork(['workflows', 'retry', String(workflow.id), '--wait', '--timeout', '30']);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toContain('Retried 1 run(s)');
    expect(retried.stdout).toMatch(/: succeeded/);
  });

  it('cancels a workflow', async () => {
    const file = specFile('slow.json', chain(task('diag.sleep', { ms: 20_000 }), task('diag.echo', {})));
    const started = await tickwork(['workflows', 'start', file, '--json']);
    const { id } = jsonOf(started.stdout) as { id: number };
    const cancelled = await tickwork(['workflows', 'cancel', String(id)]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toMatch(/Cancelled \d run\(s\) that had not started/);
    const waited = await tickwork(['workflows', 'show', String(id), '--wait', '--timeout', '30']);
    expect(waited.code).toBe(3);
    expect(waited.stdout).toMatch(/: cancelled/);
  });

  it('refuses a bad file or policy with a usage error, and a bad canvas with the API’s 400', async () => {
    const missing = await tickwork(['workflows', 'start', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read');
    const policy = await tickwork([
      'workflows',
      'start',
      specFile('ok.json', task('diag.echo')),
      '--on-parent-failure',
      'maybe',
    ]);
    expect(policy.code).toBe(2);
    const bad = await tickwork([
      'workflows',
      'start',
      specFile('bad.json', chain(task('diag.echo'), task('no.such'))),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('root.steps.1');
  });
});

describe('tickwork enqueue --depends-on', { timeout: 60_000 }, () => {
  it('runs a task after another, with its result', async () => {
    const first = await tickwork(['enqueue', 'diag.sleep', '--args', '{"ms":300}', '--json']);
    const { id } = jsonOf(first.stdout) as { id: number };
    const second = await tickwork([
      'enqueue',
      'diag.echo',
      '--depends-on',
      String(id),
      '--wait',
      '--json',
      '--timeout',
      '30',
    ]);
    expect(second.code, second.stderr).toBe(0);
    const run = jsonOf(second.stdout) as { id: number };
    const client = new TickworkClient({ baseUrl: url });
    const detail = await client.getRun(run.id);
    expect(detail.parentResults).toMatchObject([{ runId: id, status: 'succeeded', result: { slept: 300 } }]);
    const usage = await tickwork(['enqueue', 'diag.echo', '--on-parent-failure', 'run']);
    expect(usage.code).toBe(2);
  });
});
