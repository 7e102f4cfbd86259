import { parseArgs } from 'node:util';
import type pg from 'pg';
import { cpuBetween, cpuSnapshot, labelProcess } from './cpu.js';
import { JsonClient } from './http.js';
import { percentile, resetWorld, until, withHarness, type Harness } from './support.js';

/**
 * End-to-end throughput through the public API: N diag.echo tasks POSTed with `--inflight` requests in
 * flight, against real api, scheduler and worker processes, timed from the first POST until PostgreSQL
 * shows every run succeeded. Runs in its own database and vhost (`tickwork_bench`), dropped first.
 */
const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '50' },
    inflight: { type: 'string', default: '50' },
    port: { type: 'string', default: '3917' },
  },
});
const tasks = Number(values.tasks);
const workers = Number(values.workers);
const concurrency = Number(values.concurrency);
const inflight = Number(values.inflight);
const port = Number(values.port);
const base = `http://127.0.0.1:${port}`;

const count = async (db: pg.Pool, sql: string) => (await db.query<{ n: number }>(sql)).rows[0]!.n;

async function startServices(h: Harness, db: pg.Pool): Promise<void> {
  h.start('apps/api/src/main.ts');
  h.start('apps/scheduler/src/main.ts');
  for (let i = 0; i < workers; i++) h.start('apps/worker/src/main.ts');
  const alive = () => h.assertAlive();
  await until(async () => (await fetch(`${base}/readyz`)).ok, 30_000, 'api ready', alive);
  await until(
    async () =>
      (await count(db, `SELECT count(*)::int AS n FROM workers WHERE stopped_at IS NULL`)) === workers,
    30_000,
    'workers registered',
    alive,
  );
}

/** POSTs every task with `inflight` requests in flight; returns each request's latency in ms. */
async function postTasks(): Promise<number[]> {
  const client = new JsonClient(new URL(base), inflight);
  const acceptMs: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inflight, tasks) }, async () => {
      while (next < tasks) {
        next++;
        const t0 = performance.now();
        const response = await client.request('POST', '/api/v1/tasks', {
          task: 'diag.echo',
          args: { i: next },
        });
        if (response.status !== 202) throw new Error(`POST /tasks: ${response.status} ${response.body}`);
        acceptMs.push(performance.now() - t0);
      }
    }),
  );
  client.close();
  return acceptMs;
}

async function measure(h: Harness): Promise<void> {
  const db = h.pool(2);
  await startServices(h, db);
  const cpuBefore = cpuSnapshot();
  const started = performance.now();
  const acceptMs = await postTasks();
  const acceptedAt = performance.now();
  await until(
    async () => (await count(db, `SELECT count(*)::int AS n FROM runs WHERE status = 'succeeded'`)) === tasks,
    600_000,
    'all runs succeeded',
    () => h.assertAlive(),
  );
  const done = performance.now();
  console.table(h.usage());
  console.table(cpuBetween(cpuBefore, cpuSnapshot(), labelProcess));
  acceptMs.sort((a, b) => a - b);
  const result = {
    scenario: 'api-e2e-throughput',
    tasks,
    workers,
    concurrency,
    inflight,
    acceptPerSec: Math.round(tasks / ((acceptedAt - started) / 1000)),
    endToEndPerSec: Math.round(tasks / ((done - started) / 1000)),
    acceptP50Ms: Number(percentile(acceptMs, 50).toFixed(1)),
    acceptP99Ms: Number(percentile(acceptMs, 99).toFixed(1)),
    wallSeconds: Number(((done - started) / 1000).toFixed(2)),
  };
  console.log(JSON.stringify(result));
  console.table({
    'end to end (tasks/s)': result.endToEndPerSec,
    'accept (tasks/s)': result.acceptPerSec,
    'POST /tasks p50 (ms)': result.acceptP50Ms,
    'POST /tasks p99 (ms)': result.acceptP99Ms,
  });
}

await resetWorld();
await withHarness({ PORT: String(port), WORKER_CONCURRENCY: String(concurrency) }, async (h) => {
  await h.migrate();
  await measure(h);
});
