import { readdirSync, readFileSync } from 'node:fs';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRun, listAttempts, type Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import type { Dispatcher } from '../apps/scheduler/src/dispatcher.js';
import type { Worker } from '@tickwork/worker';
import { buildServices } from '../scripts/build.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { SERVICE_START_MS, spawnScript, spawnService, type ServiceProcess } from './support/processes.js';
import { enqueue, startApi, startDispatcher, startWorker, waitForStatus } from './support/stack.js';
import { freePort } from './support/faults.js';
import { exitOf, workerIdOf } from './support/fleet.js';
import { waitFor } from './support/wait.js';

let env: TestEnv;
let api: App;
let apiBroker: Broker;
let dispatcher: Dispatcher;
let connection: ChannelModel;
let channel: Channel;
const processes: ServiceProcess[] = [];
/** Grandchildren (npm start's services) live in their own process groups: tracked to clean up. */
const grandchildren = new Set<number>();
const inProcessWorkers: Worker[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  ({ api, broker: apiBroker } = await startApi(env));
  dispatcher = await startDispatcher(env);
  connection = await amqp.connect(env.amqpUrl);
  channel = await connection.createChannel();
  // A database cloned from the template, and an in-process API and dispatcher, on a loaded machine.
}, 120_000);

afterAll(async () => {
  for (const p of processes) {
    if (p.child.pid !== undefined && p.child.exitCode === null) {
      for (const child of childPids(p.child.pid)) grandchildren.add(child);
    }
  }
  for (const p of processes) p.kill('SIGKILL');
  for (const pid of grandchildren) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  await Promise.all(inProcessWorkers.map((w) => w.stop()));
  await connection?.close().catch(() => undefined);
  await dispatcher?.stop();
  await api?.close();
  await apiBroker?.stop();
  await env?.cleanup();
});

function spawn(service: 'api' | 'scheduler' | 'worker', overrides: Record<string, string> = {}) {
  const p = spawnService(service, env.processEnv(overrides));
  processes.push(p);
  return p;
}

async function inProcessWorker(): Promise<Worker> {
  const worker = await startWorker(env);
  inProcessWorkers.push(worker);
  return worker;
}

async function stopInProcessWorker(worker: Worker): Promise<void> {
  await worker.stop();
  inProcessWorkers.splice(inProcessWorkers.indexOf(worker), 1);
}

function waitForRunningUnder(runId: number, workerId: string) {
  return waitFor(
    async () => {
      const run = await getRun(env.pool, runId);
      return run?.status === 'running' && run.workerId === workerId ? run : undefined;
    },
    { timeoutMs: 30_000, what: `run ${runId} to be running under worker ${workerId}` },
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** npm start runs each service from its bundle: `node --enable-source-maps dist/<service>.js`. */
const SERVICE_COMMAND = /dist\/(api|scheduler|worker)\.js/;

/** The children of `pid` whose command line matches (default: any); tsx's esbuild helper is one too. */
function childPids(pid: number, command: RegExp = /./): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (command.test(cmdline)) children.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

async function waitForReady(port: number): Promise<void> {
  await waitFor(
    async () => {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`, {
        signal: AbortSignal.timeout(3000),
      });
      return response.status === 200;
    },
    { timeoutMs: SERVICE_START_MS, intervalMs: 200, what: `the API on port ${port} to be ready` },
  );
}

// Test timeouts: a cold service start takes up to SERVICE_START_MS (180 s) on a loaded machine; each
// test allows that per start it waits for, and a minute for its work.
describe('service processes', () => {
  it('finishes a run whose worker process is SIGKILLed mid-task, on another worker', async () => {
    for (let round = 1; round <= 2; round++) {
      const a = spawn('worker');
      const aId = await workerIdOf(env, a);
      // Long enough that the kill lands mid-task even on a loaded machine.
      const accepted = await enqueue(api, { task: 'diag.sleep', args: { ms: 4000 } });
      await waitForRunningUnder(accepted.id, aId);

      a.kill('SIGKILL');
      expect((await exitOf(a)).signal).toBe('SIGKILL');

      const b = await inProcessWorker();
      const run = await waitForStatus(env, accepted.id, 'succeeded', 40_000);
      expect(run.attempts).toBe(2);
      expect(run.workerId).toBe(b.id);
      expect(run.result).toEqual({ slept: 4000 });
      await stopInProcessWorker(b);
    }
  }, 420_000);

  it('drains on SIGTERM: the running task finishes and the process exits 0', async () => {
    const w = spawn('worker');
    const id = await workerIdOf(env, w);
    const accepted = await enqueue(api, { task: 'diag.sleep', args: { ms: 1500 } });
    await waitForRunningUnder(accepted.id, id);

    w.kill('SIGTERM');
    expect(await exitOf(w)).toEqual({ code: 0, signal: null });
    const run = await getRun(env.pool, accepted.id);
    expect(run).toMatchObject({ status: 'succeeded', attempts: 1, workerId: id, result: { slept: 1500 } });
    const { rows } = await env.pool.query<{ stopped: boolean }>(
      'SELECT stopped_at IS NOT NULL AS stopped FROM workers WHERE id = $1',
      [id],
    );
    expect(rows[0]?.stopped).toBe(true);
  }, 240_000);

  it('hands a task back on SIGTERM when the grace period is shorter, and another worker completes it', async () => {
    const w = spawn('worker', { WORKER_SHUTDOWN_GRACE_SECONDS: '1' });
    const id = await workerIdOf(env, w);
    const accepted = await enqueue(api, { task: 'diag.sleep', args: { ms: 6000 } });
    await waitForRunningUnder(accepted.id, id);

    w.kill('SIGTERM');
    expect(await exitOf(w)).toEqual({ code: 0, signal: null });
    const handedBack = await getRun(env.pool, accepted.id);
    expect(handedBack).toMatchObject({ status: 'queued', attempts: 1 });
    // Its message went back to the queue (nobody consumes it now): RabbitMQ requeues it on the
    // worker's nack, which it may process a moment after the process is gone.
    await waitFor(async () => (await channel.checkQueue('default')).messageCount === 1, {
      what: 'the handed-back message to be back in the queue',
    });

    const b = await inProcessWorker();
    const run = await waitForStatus(env, accepted.id, 'succeeded', 30_000);
    expect(run.attempts).toBe(2);
    expect(run.workerId).toBe(b.id);
    expect((await listAttempts(env.pool, run)).map((a) => [a.attempt, a.outcome, a.workerId])).toEqual([
      [1, 'released', id],
      [2, 'succeeded', b.id],
    ]);
    await stopInProcessWorker(b);
  }, 240_000);

  it('stops the scheduler and the api processes on SIGTERM with exit code 0', async () => {
    const port = await freePort();
    const scheduler = spawn('scheduler');
    const apiProcess = spawn('api', { PORT: String(port) });
    await scheduler.waitForOutput(/connected to RabbitMQ/, SERVICE_START_MS);
    await waitForReady(port);

    scheduler.kill('SIGTERM');
    apiProcess.kill('SIGTERM');
    expect(await exitOf(scheduler)).toEqual({ code: 0, signal: null });
    expect(await exitOf(apiProcess)).toEqual({ code: 0, signal: null });
  }, 240_000);

  it('`npm start` runs api, scheduler and worker, and stops all three on SIGINT', async () => {
    const port = await freePort();
    // `npm start` is `npm run build`, then scripts/start.ts.
    await buildServices();
    const start = spawnScript('scripts/start.ts', env.processEnv({ PORT: String(port) }));
    processes.push(start);
    const pid = start.child.pid!;
    // Migrate first, then the three services: recorded at once so that cleanup can always reach them.
    const services = await waitFor(
      () => {
        if (start.child.exitCode !== null) throw new Error(`npm start exited: ${start.output()}`);
        const pids = childPids(pid, SERVICE_COMMAND);
        if (pids.length !== 3) return undefined;
        for (const child of pids) grandchildren.add(child);
        return pids;
      },
      { timeoutMs: SERVICE_START_MS, intervalMs: 100, what: 'npm start to run three services' },
    ).catch((error: unknown) => {
      throw new Error(
        `${(error as Error).message}; children ${JSON.stringify(childPids(pid, SERVICE_COMMAND))}; output:\n${start.output()}`,
      );
    });
    await waitForReady(port);
    expect(childPids(pid, SERVICE_COMMAND).sort()).toEqual([...services].sort());

    const base = `http://127.0.0.1:${port}/api/v1`;
    const posted = await fetch(`${base}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'diag.echo', args: { via: 'npm start' } }),
    });
    expect(posted.status).toBe(202);
    const { id } = (await posted.json()) as { id: number };
    const run = await waitFor(
      async () => {
        const response = await fetch(`${base}/runs/${id}`);
        const body = (await response.json()) as { status: string; result: unknown; workerId: string };
        return body.status === 'succeeded' ? body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `run ${id} to succeed through npm start` },
    );
    expect(run.result).toEqual({ via: 'npm start' });
    // The run was executed by npm start's own worker.
    const { rows } = await env.pool.query<{ pid: number }>('SELECT pid FROM workers WHERE id = $1', [
      run.workerId,
    ]);
    expect(services).toContain(rows[0]?.pid);

    start.kill('SIGINT');
    expect(await exitOf(start, 45_000)).toEqual({ code: 0, signal: null });
    for (const child of services) {
      expect(isAlive(child)).toBe(false);
      grandchildren.delete(child);
    }
    for (const service of ['api', 'scheduler', 'worker']) {
      expect(start.output()).toMatch(new RegExp(`"service":"${service}"[^\\n]*"msg":"stopped"`));
    }
    // Building the bundles, then the launcher's migrate and three services, on a loaded machine.
  }, 420_000);
});
