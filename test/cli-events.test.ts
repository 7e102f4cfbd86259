import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run, TickworkEvent } from '@tickwork/client';
import { main, type Io } from '../packages/cli/src/main.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { enqueue, startStack, waitForStatus, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

/**
 * `tickwork events` (the real CLI, as a child process, tailing an in-process API's stream until
 * Ctrl-C) and `enqueue --wait` printing progress reports from the stream.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../packages/cli/bin/tickwork.js', import.meta.url));
/** A CLI start from its TypeScript sources on a loaded machine (see cli.test.ts). */
const CLI_START_MS = 60_000;

let env: TestEnv;
let stack: Stack;
let url: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  await stack.api.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(stack.api.server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await stack?.stop();
  await env?.cleanup();
});

/** The CLI running in the background: its output so far, and its end. */
function tickwork(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TICKWORK_URL: url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

describe('tickwork events', { timeout: 3 * CLI_START_MS }, () => {
  it('prints one line per event until Ctrl-C; --json prints JSON lines', async () => {
    const lines = tickwork(['events', '--task', 'diag.echo']);
    const json = tickwork(['events', '--json', '--type', 'run.succeeded', '--type', 'run.queued']);
    // Subscribed once a probe run shows on both (each CLI starts from its TypeScript sources first).
    await waitFor(
      async () => {
        const probe = await enqueue(stack.api, { task: 'diag.echo', args: { probe: true } });
        const shown = () =>
          lines.stdout().includes(`run ${probe.id} `) && json.stdout().includes(`"runId":${probe.id},`);
        await waitFor(shown, { timeoutMs: 2000 }).catch(() => undefined);
        return shown();
      },
      { timeoutMs: CLI_START_MS, intervalMs: 0, what: 'both CLIs subscribed' },
    );
    const run = await enqueue(stack.api, { task: 'diag.echo', args: { from: 'cli' } });
    await waitFor(
      () =>
        lines.stdout().includes(`run ${run.id} succeeded`) &&
        json.stdout().includes(`"runId":${run.id},"`) &&
        json.stdout().includes('"type":"run.succeeded"'),
      { timeoutMs: 30_000, what: 'the run on both CLIs' },
    ).catch((error: unknown) => {
      throw new Error(
        `${String(error)}\nlines: ${lines.stdout()}${lines.stderr()}\njson: ${json.stdout()}${json.stderr()}`,
      );
    });
    await waitFor(() =>
      json
        .stdout()
        .split('\n')
        .some((line) => line.includes(`"runId":${run.id},`) && line.includes('run.succeeded')),
    );
    const mine = lines
      .stdout()
      .split('\n')
      .filter((line) => line.includes(`run ${run.id} `));
    expect(mine).toHaveLength(3);
    expect(mine[0]).toMatch(
      new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  run ${run.id} queued  diag\\.echo on default$`),
    );
    expect(mine[1]).toMatch(
      new RegExp(`  run ${run.id} running  diag\\.echo on default  \\(from queued, attempt 1\\)$`),
    );
    expect(mine[2]).toMatch(
      new RegExp(`  run ${run.id} succeeded  diag\\.echo on default  \\(from running, attempt 1\\)$`),
    );
    const events = json
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as TickworkEvent)
      .filter((event) => event.runId === run.id);
    expect(events.map((e) => e.type)).toEqual(['run.queued', 'run.succeeded']);
    lines.child.kill('SIGINT');
    json.child.kill('SIGINT');
    expect((await lines.exited).code ?? 130).not.toBe(0);
    await json.exited;
    expect(lines.stderr()).toBe('');
  });

  it('resumes with --from-id; refuses a bad id (exit 1) and a bad --run (exit 2)', async () => {
    const first = await enqueue(stack.api, { task: 'diag.echo', args: { n: 1 } });
    await waitForStatus(env, first.id, 'succeeded');
    const { rows } = await env.pool.query<{ id: string }>(
      `SELECT tx::text || '-' || id AS id FROM events WHERE run_id = $1 AND type = 'run.queued'`,
      [first.id],
    );
    let stdout = '';
    let stderr = '';
    const stop = new AbortController();
    const io: Io = {
      env: { TICKWORK_URL: url },
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      signal: stop.signal,
    };
    const running = main(['events', '--run', String(first.id), '--from-id', rows[0]?.id ?? '', '--json'], io);
    await waitFor(() => stdout.includes('run.succeeded'), { what: 'the events after the id' });
    stop.abort();
    expect(await running).toBe(0);
    expect(
      stdout
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as TickworkEvent).type),
    ).toEqual(['run.running', 'run.succeeded']);
    expect(stderr).toBe('');

    const quiet = { write: () => true };
    let refused = '';
    const bad = await main(['events', '--from-id', 'nope'], {
      env: { TICKWORK_URL: url },
      stdout: quiet,
      stderr: { write: (text: string) => (refused += text) },
    });
    expect(bad).toBe(1);
    expect(refused).toMatch(
      /"nope" is not an event id: .*\(HTTP 400\)\n {2}Last-Event-ID: is not an event id/,
    );
    let usage = '';
    const wrong = await main(['events', '--run', 'abc'], {
      env: { TICKWORK_URL: url },
      stdout: quiet,
      stderr: { write: (text: string) => (usage += text) },
    });
    expect(wrong).toBe(2);
    expect(usage).toMatch(/--run must be a run id/);
  });
});

describe('enqueue --wait', () => {
  it('prints the task’s progress reports as they come, on stderr, and the run as before on stdout', async () => {
    let stdout = '';
    let stderr = '';
    const io: Io = {
      env: { TICKWORK_URL: url },
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
    };
    const waiting = main(['enqueue', 'diag.sleep', '--args', '{"ms":2500}', '--wait', '--json'], io);
    const runId = await waitFor(async () => {
      const { rows } = await env.pool.query<{ id: number }>(
        `SELECT id FROM runs WHERE task = 'diag.sleep' AND status = 'running' ORDER BY id DESC LIMIT 1`,
      );
      return rows[0]?.id;
    });
    const progress = {
      fraction: 0.4,
      done: 4,
      total: 10,
      message: 'fetching page 4',
      at: new Date().toISOString(),
    };
    await env.pool.query(`UPDATE runs SET progress = $2 WHERE id = $1`, [runId, JSON.stringify(progress)]);
    expect(await waiting).toBe(0);
    const run = JSON.parse(stdout) as Run;
    expect(run).toMatchObject({ id: runId, status: 'succeeded' });
    const lines = stderr.trim().split('\n');
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`^run ${runId} running · 4/10 \\(40%\\) fetching page 4 · \\d+\\.\\ds$`),
      ),
    );
    expect(lines.at(-1)).toMatch(new RegExp(`^run ${runId} succeeded · \\d+\\.\\ds$`));
  });
});
