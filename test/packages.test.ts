import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Run } from '@tickwork/client';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startStack, type Stack } from './support/stack.js';

/**
 * @tickwork/client and @tickwork/cli as a user gets them: `npm pack` (which builds them), unpacked into
 * a project outside this repository, then used from plain Node (ESM and CommonJS), type-checked by a
 * strict TypeScript consumer, and the CLI run from its bundle, all against a real API.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const exec = promisify(execFile);
const tsc = join(root, 'node_modules/typescript/bin/tsc');

let env: TestEnv;
let stack: Stack;
let url: string;
let tmp: string;
let project: string;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** A child process in the consumer project, with no loader, flags or NODE_OPTIONS of ours. */
async function run(file: string, args: string[], cwd = project): Promise<Outcome> {
  try {
    const { stdout, stderr } = await exec(file, args, {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TICKWORK_URL: url },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

const USE_CLIENT = `
  const client = new TickworkClient({ baseUrl: process.env.TICKWORK_URL });
  const { run } = await client.enqueue({ task: 'diag.echo', args: { from: FORMAT } });
  const done = await client.waitForRun(run.id, { timeoutMs: 20_000, intervalMs: 50 });
  const missing = await client.getRun(2_000_000_000).catch((error) => error);
  console.log(JSON.stringify({ status: done.status, result: done.result,
    missing: missing instanceof TickworkApiError ? missing.status : String(missing) }));
`;

const CONSUMER_TS = `
import { TickworkClient, type Run, type RunStatus } from '@tickwork/client';

type Tasks = { 'email.send': { to: string }; 'report.build': undefined };
const client = new TickworkClient<Tasks>({ baseUrl: 'http://127.0.0.1:3000', token: 'secret' });

export async function send(): Promise<RunStatus> {
  const { run, replayed }: { run: Run; replayed: boolean } = await client.enqueue({
    task: 'email.send',
    args: { to: 'a@example.com' },
    idempotencyKey: 'k1',
  });
  await client.enqueue({ task: 'report.build' });
  const schedule = await client.createSchedule({
    name: 'nightly',
    task: 'report.build',
    trigger: { type: 'cron', expression: '0 2 * * *', timezone: 'Europe/Paris' },
  });
  const next: string | null = schedule.nextRunAt;
  void next;
  void replayed;
  return (await client.waitForRun(run.id, { timeoutMs: 1_000 })).status;
}
`;

/** Each line must be refused by the compiler: wrong args, an unknown task, a field runs do not have. */
const WRONG_TS = `
import { TickworkClient } from '@tickwork/client';

const client = new TickworkClient<{ 'email.send': { to: string } }>({ baseUrl: 'http://127.0.0.1:3000' });

export async function wrong(): Promise<void> {
  await client.enqueue({ task: 'email.send', args: { to: 42 } });
  await client.enqueue({ task: 'email.sned', args: { to: 'a@example.com' } });
  const { run } = await client.enqueue({ task: 'email.send', args: { to: 'a@example.com' } });
  console.log(run.owner);
}
`;

const tsconfig = (file: string) =>
  JSON.stringify({
    compilerOptions: {
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
      typeRoots: [join(root, 'node_modules/@types')],
    },
    files: [file],
  });

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  await stack.api.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(stack.api.server.address() as AddressInfo).port}`;

  tmp = await mkdtemp(join(tmpdir(), 'tickwork-packages-'));
  await exec('npm', ['pack', '--pack-destination', tmp, '-w', '@tickwork/client', '-w', '@tickwork/cli'], {
    cwd: root,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  project = join(tmp, 'service');
  for (const name of ['client', 'cli']) {
    const into = join(project, 'node_modules/@tickwork', name);
    await mkdir(into, { recursive: true });
    await exec('tar', ['-xzf', join(tmp, `tickwork-${name}-0.1.0.tgz`), '-C', into, '--strip-components=1']);
  }
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'service', private: true }));
  await writeFile(
    join(project, 'esm.mjs'),
    `import { TickworkClient, TickworkApiError } from '@tickwork/client';\nconst FORMAT = 'esm';\n${USE_CLIENT}`,
  );
  await writeFile(
    join(project, 'commonjs.cjs'),
    `const { TickworkClient, TickworkApiError } = require('@tickwork/client');\nconst FORMAT = 'commonjs';\n` +
      `(async () => {${USE_CLIENT}})();`,
  );
  await writeFile(join(project, 'consumer.mts'), CONSUMER_TS);
  await writeFile(join(project, 'wrong.mts'), WRONG_TS);
  await writeFile(join(project, 'tsconfig.json'), tsconfig('consumer.mts'));
  await writeFile(join(project, 'tsconfig.wrong.json'), tsconfig('wrong.mts'));
}, 120_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
  await stack?.stop();
  await env?.cleanup();
});

describe('@tickwork/client as a package', () => {
  it('ships built JavaScript and declarations, not TypeScript sources', async () => {
    const files = await readdir(join(project, 'node_modules/@tickwork/client/dist'));
    expect(files).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', 'client.js', 'client.d.ts']));
    expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
  });

  it.each([
    ['esm.mjs', 'esm'],
    ['commonjs.cjs', 'commonjs'],
  ])('runs a task from plain Node (%s) and reports API errors as TickworkApiError', async (file, format) => {
    const outcome = await run(process.execPath, [file]);
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(JSON.parse(outcome.stdout)).toEqual({
      status: 'succeeded',
      result: { from: format },
      missing: 404,
    });
  });

  it('type-checks a strict TypeScript consumer against its declarations', async () => {
    const outcome = await run(process.execPath, [tsc, '-p', 'tsconfig.json']);
    expect(outcome.code, outcome.stdout).toBe(0);
  });

  it('makes the compiler refuse wrong args, unknown tasks and unknown fields', async () => {
    const outcome = await run(process.execPath, [tsc, '-p', 'tsconfig.wrong.json']);
    expect(outcome.code).not.toBe(0);
    const errors = outcome.stdout.split('\n').filter((line) => line.startsWith('wrong.mts('));
    expect(errors.map((line) => /^wrong\.mts\((\d+),/.exec(line)?.[1])).toEqual(['7', '8', '10']);
  });
});

describe('@tickwork/cli as a package', () => {
  it('runs from its bundle: enqueue --wait --json prints the finished run', async () => {
    const bin = join(project, 'node_modules/@tickwork/cli/bin/tickwork.js');
    const outcome = await run(process.execPath, [
      bin,
      'enqueue',
      'diag.echo',
      '--args',
      '{"from":"cli"}',
      '--wait',
      '--json',
    ]);
    expect(outcome.code, outcome.stderr).toBe(0);
    expect(JSON.parse(outcome.stdout) as Run).toMatchObject({
      task: 'diag.echo',
      status: 'succeeded',
      result: { from: 'cli' },
    });
  });
});
