import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startStack, waitForStatus, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

/**
 * @tickwork/worker as a user gets it: built and packed by scripts/pack-packages.mjs (with @tickwork/core),
 * installed into a project outside this repository, a task written in TypeScript on a queue of its own,
 * compiled with tsc, and run in a worker embedded in the project's own Node process, while the API
 * (started here without that task's code) learns the task from the catalogue and accepts it.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const exec = promisify(execFile);
const tsc = join(root, 'node_modules/typescript/bin/tsc');

let env: TestEnv;
let stack: Stack;
let tmp: string;
let project: string;
let service: ChildProcess | undefined;
let output = '';

// A module of tasks imports the light entry point (what an isolated task's module should do).
const TASKS_TS = `
import { defineTask, Type, RetryableTaskError } from '@tickwork/worker/define';

export const buildReport = defineTask({
  name: 'reports.build',
  queue: 'reports',
  description: 'Sums the figures of a report.',
  args: Type.Object({ title: Type.String({ minLength: 1 }), figures: Type.Array(Type.Number()) }),
  maxRetries: 2,
  timeoutSeconds: 30,
  run: async ({ title, figures }, { attempt, logger }) => {
    // args are typed from the schema: title is a string, figures a number[].
    const total: number = figures.reduce((sum, n) => sum + n, 0);
    if (attempt === 1 && title === 'flaky') throw new RetryableTaskError('first attempt fails');
    logger.info({ title }, 'report built');
    return { title: title.toUpperCase(), total, attempt };
  },
});
`;

const MAIN_TS = `
import { createWorker } from '@tickwork/worker';
import { buildReport } from './tasks.js';

const worker = createWorker({
  databaseUrl: process.env.DATABASE_URL!,
  amqpUrl: process.env.AMQP_URL!,
  tasks: [buildReport],
  concurrency: 2,
});
await worker.start();
console.log(JSON.stringify({ ready: worker.id, queues: worker.queues }));
process.once('SIGTERM', () => {
  worker.stop().then(() => process.exit(0), (error: unknown) => { console.error(error); process.exit(1); });
});
`;

/** The compiler must refuse a task whose run uses its args against their schema. */
const WRONG_TS = `
import { defineTask, Type } from '@tickwork/worker';

export const wrong = defineTask({
  name: 'reports.wrong',
  args: Type.Object({ title: Type.String() }),
  run: ({ title }) => title.toFixed(2),
});
`;

const tsconfig = (files: string[]) =>
  JSON.stringify({
    compilerOptions: {
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      strict: true,
      outDir: 'dist',
      rootDir: 'src',
      // As `tsc --init` sets it: drizzle-orm's own declarations (which @tickwork/core's reach) do not
      // pass this compiler's library check. Uses of ours are checked all the same (see wrong.ts).
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(root, 'node_modules/@types')],
    },
    files,
  });

beforeAll(async () => {
  env = await createTestEnv();
  // The API and the dispatcher, with no worker and no task modules.
  stack = await startStack(env, { workers: 0 });

  tmp = await mkdtemp(join(tmpdir(), 'tickwork-worker-package-'));
  const npmEnv = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' };
  // Built with tsc and packed with a manifest that exports the build, as they are published.
  await exec(process.execPath, [join(root, 'scripts/pack-packages.mjs'), tmp, 'core', 'worker'], {
    cwd: root,
    env: npmEnv,
  });
  project = join(tmp, 'service');
  await mkdir(join(project, 'src'), { recursive: true });
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'service', private: true, type: 'module' }),
  );
  // Third-party dependencies come from npm's cache, which installing this repository filled.
  await exec(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--ignore-scripts',
      join(tmp, 'tickwork-core-0.1.0.tgz'),
      join(tmp, 'tickwork-worker-0.1.0.tgz'),
    ],
    { cwd: project, env: npmEnv },
  );
  await writeFile(join(project, 'src/tasks.ts'), TASKS_TS);
  await writeFile(join(project, 'src/main.ts'), MAIN_TS);
  await writeFile(join(project, 'src/wrong.ts'), WRONG_TS);
  await writeFile(join(project, 'tsconfig.json'), tsconfig(['src/main.ts', 'src/wrong.ts']));
}, 600_000);

afterAll(async () => {
  if (service && service.exitCode === null) service.kill('SIGKILL');
  if (tmp) await rm(tmp, { recursive: true, force: true });
  await stack?.stop();
  await env?.cleanup();
});

const post = (payload: object) => stack.api.inject({ method: 'POST', url: '/api/v1/tasks', payload });

describe('@tickwork/worker embedded in a service outside the repository', () => {
  it('ships built JavaScript and declarations, not TypeScript sources', async () => {
    for (const name of ['core', 'worker']) {
      const files = await readdir(join(project, 'node_modules/@tickwork', name, 'dist'));
      expect(files).toEqual(expect.arrayContaining(['index.js', 'index.d.ts']));
      expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    }
  });

  it("compiles a TypeScript task with the user's tsc, and refuses args used against their schema", async () => {
    // One compile (tsc emits on error): the service builds, and the task misusing its args does not type-check.
    const compiled = await exec(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? 'tsc failed without output',
    );
    const errors = compiled.split('\n').filter((line) => /^src\/\S+\.ts\(/.test(line));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^src\/wrong\.ts\(7,.*Property 'toFixed' does not exist on type 'string'/);
    await access(join(project, 'dist/main.js'));
  }, 240_000);

  it('the API refuses the task until a worker that serves it has registered it', async () => {
    const response = await post({ task: 'reports.build', args: { title: 'q1', figures: [1] } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ errors: [{ field: 'task', message: 'is not a known task' }] });
  });

  it('runs the task on its own queue in the embedded worker; the API validates it from the catalogue', async () => {
    service = spawn(process.execPath, ['dist/main.js'], {
      cwd: project,
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: env.databaseUrl, AMQP_URL: env.amqpUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    service.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    service.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(() => output.includes('"ready"'), {
      timeoutMs: 60_000,
      what: `the worker to start: ${output}`,
    });

    const bad = await post({ task: 'reports.build', args: { title: '', figures: ['x'] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ errors: Array<{ field: string }> }>().errors.map((e) => e.field)).toEqual(
      expect.arrayContaining(['args.title']),
    );

    const accepted = await post({ task: 'reports.build', args: { title: 'q1', figures: [1, 2, 3.5] } });
    expect(accepted.statusCode, accepted.body).toBe(202);
    expect(accepted.json()).toMatchObject({ queue: 'reports', maxRetries: 2, timeoutSeconds: 30 });
    const done = await waitForStatus(env, accepted.json<{ id: number }>().id, 'succeeded', 30_000);
    expect(done.result).toEqual({ title: 'Q1', total: 6.5, attempt: 1 });

    const flaky = await post({ task: 'reports.build', args: { title: 'flaky', figures: [] } });
    const retried = await waitForStatus(env, flaky.json<{ id: number }>().id, 'succeeded', 30_000);
    expect(retried).toMatchObject({ attempts: 2, result: { title: 'FLAKY', total: 0, attempt: 2 } });

    const catalogue = await stack.api.inject({ method: 'GET', url: '/api/v1/tasks' });
    const entry = catalogue.json<Array<{ name: string }>>().find((t) => t.name === 'reports.build');
    expect(entry).toMatchObject({
      queue: 'reports',
      description: 'Sums the figures of a report.',
      liveWorkers: 1,
    });
    const queues = await stack.api.inject({ method: 'GET', url: '/api/v1/workers' });
    expect(queues.json()).toEqual(
      expect.arrayContaining([expect.objectContaining({ queues: ['reports'], tasks: ['reports.build'] })]),
    );
  }, 120_000);

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => service?.once('exit', (code) => resolve(code)));
    service?.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
