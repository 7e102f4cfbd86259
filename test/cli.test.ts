import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  Attempt,
  QueueStats,
  Run,
  RunList,
  Schedule,
  ScheduleList,
  WorkerStatus,
} from '@tickwork/client';
import { main } from '../packages/cli/src/main.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startStack, type Stack } from './support/stack.js';

/** The real CLI, as a child process, against an in-process API listening on a port. */
const root = fileURLToPath(new URL('..', import.meta.url));
const ERASE = '\\r\\u001b\\[2K'; // carriage return, erase line
const BIN = fileURLToPath(new URL('../packages/cli/bin/tickwork.js', import.meta.url));
/**
 * How long one CLI invocation may take before it counts as hung. It runs from its TypeScript sources
 * (tsx): a start took over 10 s at load 15 on two cores shared with the rest of the suite and other
 * work, and over 30 s (with the awaited run) at load 30.
 */
const CLI_RUN_MS = 60_000;
/**
 * A test's budget: `invocations` CLI runs on a loaded machine, and the rest of the test. Each describe
 * below allows for its test with the most.
 */
const budget = (invocations: number) => invocations * CLI_RUN_MS + 10_000;

let env: TestEnv;
let stack: Stack;
let url: string;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tickwork(args: string[], extraEnv: Record<string, string> = {}, bin = BIN): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TICKWORK_URL: url, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, CLI_RUN_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (killed) stderr += `\n[test: tickwork ${args.join(' ')} killed after ${CLI_RUN_MS} ms]`;
      resolve({ code, stdout, stderr });
    });
  });
}

const json = <T>(result: Result): T => {
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as T;
};

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  await stack.api.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(stack.api.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

describe('help', { timeout: budget(4) }, () => {
  it('is linked as node_modules/.bin/tickwork and prints help', async () => {
    const linked = `${root}node_modules/.bin/tickwork`;
    expect(existsSync(linked)).toBe(true);
    const help = await tickwork(['--help'], {}, linked);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: tickwork <command> \[options\]$/m);
    for (const command of ['enqueue <task>', 'runs wait <id>', 'schedules trigger <id>', 'queues', 'workers'])
      expect(help.stdout).toContain(command);
  });

  it('prints per-command help', async () => {
    const help = await tickwork(['enqueue', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: tickwork enqueue <task>');
    expect(help.stdout).toMatch(/--args <json>/);
    expect((await tickwork(['help', 'runs', 'ls'])).stdout).toMatch(/--status <status>/);
    expect((await tickwork(['schedules', '--help'])).stdout).toContain('tickwork schedules pause <id>');
  });
});

describe('runs', { timeout: budget(5) }, () => {
  it('enqueue --wait shows progress and the finished run', async () => {
    const result = await tickwork(['enqueue', 'diag.echo', '--args', '{"hello":"cli"}', '--wait']);
    expect(result.code, result.stderr).toBe(0);
    const id = /^Enqueued run (\d+) \(diag\.echo on default\)$/m.exec(result.stdout)?.[1];
    expect(id).toBeDefined();
    expect(result.stdout).toMatch(new RegExp(`^Run ${id}  succeeded$`, 'm'));
    expect(result.stdout).toMatch(/^result +\{"hello":"cli"\}$/m);
    // Not a TTY: plain progress lines, the last one the finished status.
    expect(result.stderr.trim().split('\n').at(-1)).toMatch(
      new RegExp(`^run ${id} succeeded · \\d+\\.\\ds$`),
    );
    expect(result.stderr).not.toContain('\r');
  });

  it('enqueue --wait --json prints the finished run; runs show prints it again', async () => {
    const run = json<Run>(await tickwork(['enqueue', 'diag.echo', '--args', '[1,2]', '--wait', '--json']));
    expect(run).toMatchObject({ task: 'diag.echo', status: 'succeeded', result: [1, 2] });

    const shown = await tickwork(['runs', 'show', String(run.id)]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^Run ${run.id}  succeeded\\n`));
    expect(shown.stdout).toMatch(/^task +diag\.echo$/m);
    expect(shown.stdout).toMatch(/^attempts +1 \(max retries 3\)$/m);
    expect(json<Run>(await tickwork(['runs', 'show', String(run.id), '--json']))).toEqual(run);

    const listed = await tickwork(['runs', 'ls', '--task', 'diag.echo', '--limit', '1']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID +TASK +STATUS +QUEUE +ATTEMPTS +CREATED +DURATION$/m);
    expect(listed.stdout).toMatch(new RegExp(`^${run.id} +diag\\.echo +succeeded +default +1 `, 'm'));
    expect(listed.stdout).toMatch(/^More: --cursor \d+$/m);
    const page = json<RunList>(await tickwork(['runs', 'ls', '--status', 'succeeded', '--json']));
    expect(page.items.map((r) => r.id)).toContain(run.id);
  });

  it('rewrites the progress line in place on a TTY', async () => {
    let stdout = '';
    let stderr = '';
    const io = {
      env: { TICKWORK_URL: url },
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { isTTY: true, write: (text: string) => (stderr += text) },
    };
    // Running for long enough that a progress poll (every 250 ms) sees it running on a loaded machine.
    const code = await main(['enqueue', 'diag.sleep', '--args', '{"ms":2000}', '--wait'], io);
    expect(code, stderr).toBe(0);
    expect(stderr).not.toContain('\n');
    expect(stderr).toMatch(new RegExp(`${ERASE}run \\d+ running · \\d+\\.\\ds`));
    expect(stderr.endsWith('\r\u001b[2K')).toBe(true);
    expect(stdout).toMatch(/^Run \d+ {2}succeeded$/m);
  });

  it('runs attempts (and runs show) list each attempt with its outcome and error', async () => {
    const waited = await tickwork([
      'enqueue',
      'diag.flaky',
      '--args',
      '{"failUntilAttempt":100}',
      '--max-retries',
      '1',
      '--wait',
      '--json',
    ]);
    expect(waited.code, waited.stderr).toBe(3);
    const failed = JSON.parse(waited.stdout) as Run;
    expect(failed).toMatchObject({ status: 'failed', attempts: 2 });
    const listed = await tickwork(['runs', 'attempts', String(failed.id)]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^ATTEMPT +OUTCOME +WORKER +STARTED +DURATION +ERROR$/m);
    for (const attempt of [1, 2])
      expect(listed.stdout).toMatch(
        new RegExp(
          `^${attempt} +failed +[0-9a-f-]{36} +\\S+ \\S+ +\\d+\\.\\ds +RetryableTaskError: flaky failure on attempt ${attempt} of 100$`,
          'm',
        ),
      );
    const attempts = json<Attempt[]>(await tickwork(['runs', 'attempts', String(failed.id), '--json']));
    expect(attempts.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
    ]);
    const shown = await tickwork(['runs', 'show', String(failed.id)]);
    expect(shown.stdout).toMatch(/^ATTEMPT +OUTCOME/m);
  });

  it('exits 3 when the awaited run fails, showing its error', async () => {
    const result = await tickwork(['enqueue', 'diag.flaky', '--args', '{"failUntilAttempt":100}', '--wait']);
    expect(result.code, result.stderr).toBe(3);
    expect(result.stdout).toMatch(/^Run \d+ {2}failed$/m);
    expect(result.stdout).toMatch(/^error +\w+: /m);
  });

  it('waits with a timeout (exit 4), cancels and retries', async () => {
    const delayed = json<Run>(await tickwork(['enqueue', 'diag.echo', '--delay', '3600', '--json']));
    expect(delayed.status).toBe('scheduled');

    // Long enough for the wait to subscribe to the stream and read the run once on a loaded machine.
    const waited = await tickwork(['runs', 'wait', String(delayed.id), '--timeout', '3']);
    expect(waited.code).toBe(4);
    expect(waited.stderr).toContain(`run ${delayed.id} scheduled`);
    expect(waited.stderr).toContain(`tickwork: run ${delayed.id} still scheduled after the timeout`);

    const cancelled = await tickwork(['runs', 'cancel', String(delayed.id)]);
    expect(cancelled).toMatchObject({ code: 0, stdout: `Run ${delayed.id} cancelled\n` });
    const retried = await tickwork(['runs', 'retry', String(delayed.id)]);
    expect(retried).toMatchObject({ code: 0, stdout: `Run ${delayed.id} retried: queued\n` });
    const done = await tickwork(['runs', 'wait', String(delayed.id), '--json']);
    expect(json<Run>(done).status).toBe('succeeded');
  });
});

describe('schedules', { timeout: budget(6) }, () => {
  it('lists, pauses, resumes and triggers', async () => {
    const response = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/schedules',
      payload: {
        name: 'cli-hourly',
        task: 'diag.echo',
        args: 'tick',
        trigger: { type: 'interval', seconds: 3600 },
      },
    });
    expect(response.statusCode, response.body).toBe(201);
    const schedule = response.json<Schedule>();

    const listed = await tickwork(['schedules', 'ls']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID +NAME +TASK +TRIGGER +STATE +NEXT RUN +LAST RUN$/m);
    expect(listed.stdout).toMatch(
      new RegExp(`^${schedule.id} +cli-hourly +diag\\.echo +every 1h0m +active `, 'm'),
    );

    const paused = await tickwork(['schedules', 'pause', String(schedule.id)]);
    expect(paused).toMatchObject({ code: 0, stdout: `Schedule ${schedule.id} (cli-hourly) paused\n` });
    const page = json<ScheduleList>(await tickwork(['schedules', 'ls', '--json']));
    expect(page.items.find((s) => s.id === schedule.id)).toMatchObject({ enabled: false, nextRunAt: null });
    expect((await tickwork(['schedules', 'ls'])).stdout).toMatch(
      new RegExp(`^${schedule.id} .* paused +- `, 'm'),
    );

    const resumed = json<Schedule>(await tickwork(['schedules', 'resume', String(schedule.id), '--json']));
    expect(resumed.enabled).toBe(true);

    const triggered = await tickwork(['schedules', 'trigger', String(schedule.id)]);
    expect(triggered.code).toBe(0);
    expect(triggered.stdout).toMatch(
      new RegExp(`^Triggered schedule ${schedule.id}: run \\d+ \\(diag\\.echo\\) queued$`, 'm'),
    );
  });
});

describe('status', { timeout: budget(5) }, () => {
  it('shows queues and workers', async () => {
    const queues = await tickwork(['queues']);
    expect(queues.code).toBe(0);
    expect(queues.stdout).toMatch(/^QUEUE +STATE +READY +UNACKED +TOTAL +IN\/S +OUT\/S +CONSUMERS$/m);
    expect(queues.stdout).toMatch(/^default +active +\d+ +\d+ +\d+ +\d+\.\d +\d+\.\d +\d+$/m);
    const queueList = json<QueueStats[]>(await tickwork(['queues', '--json']));
    expect(queueList.map((q) => q.name)).toContain('default');

    const tasks = await tickwork(['tasks']);
    expect(tasks.code, tasks.stderr).toBe(0);
    expect(tasks.stdout).toMatch(/^TASK +QUEUE +RETRIES +TIMEOUT +WORKERS +DESCRIPTION$/m);
    expect(tasks.stdout).toMatch(/^cleanup\.runs +cleanup +3 +600s +1 +Deletes finished runs/m);

    const workers = await tickwork(['workers']);
    expect(workers.code).toBe(0);
    expect(workers.stdout).toMatch(/^ID +HOST +PID +QUEUES +CONCURRENCY +RUNNING +STATE +LAST HEARTBEAT$/m);
    expect(workers.stdout).toMatch(/ alive /);
    const workerList = json<WorkerStatus[]>(await tickwork(['workers', '--json']));
    expect(workerList.some((w) => w.alive)).toBe(true);
  });
});

describe('errors', { timeout: budget(6) }, () => {
  it('prints the problem detail and exits 1', async () => {
    const missing = await tickwork(['runs', 'show', '999999']);
    expect(missing).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'tickwork: run 999999 does not exist (HTTP 404)\n',
    });
    const asJson = await tickwork(['runs', 'show', '999999', '--json']);
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.stderr)).toMatchObject({
      error: { status: 404, problem: { title: 'Not Found' } },
    });

    const unknownTask = await tickwork(['enqueue', 'no.such.task']);
    expect(unknownTask.code).toBe(1);
    expect(unknownTask.stderr).toMatch(/no\.such\.task.*\(HTTP 400\)/);
  });

  it('exits 1 when the API is unreachable and 2 on usage errors', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const closed = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new Promise((resolve) => server.close(resolve));
    const unreachable = await tickwork(['queues', '--url', closed]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(
      new RegExp(
        `^tickwork: cannot reach Tickwork API at ${closed}: ECONNREFUSED \\(set --url or TICKWORK_URL\\)\n$`,
      ),
    );

    expect(await tickwork(['runs', 'show', 'abc'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/<id>/) as unknown,
    });
    expect((await tickwork(['enqueue', 'diag.echo', '--args', '{nope'])).code).toBe(2);
    expect((await tickwork(['runs', 'show', '1', '--limit', '3'])).code).toBe(2);
    expect((await tickwork(['frobnicate'])).code).toBe(2);
    expect((await tickwork([])).code).toBe(2);
  });
});
