import type pg from 'pg';
import { TickworkClient } from '@tickwork/client';
import { cpuBetween, cpuSnapshot, labelProcess } from '../cpu.js';
import { JsonClient } from '../http.js';
import { report, type Result } from '../results.js';
import { percentile, resetWorld, until, withHarness, type Harness } from '../support.js';

export interface ThroughputOptions {
  /** 'api': one POST /tasks per task; 'client': the SDK's enqueueMany, `batch` tasks per request. */
  path: 'api' | 'client';
  tasks: number;
  workers: number;
  /** WORKER_CONCURRENCY of each worker. */
  concurrency: number;
  /** WORKER_PREFETCH of each worker. */
  prefetch: number;
  /** Requests in flight at once. */
  inflight: number;
  batch: number;
  port: number;
}

/**
 * End-to-end throughput of no-op `diag.echo` tasks against real api, scheduler and worker processes:
 * from the first request until PostgreSQL shows every run succeeded. Also: how long accepting took
 * (per request), how long a run waited from due to started (pickup), each service's peak RSS and where
 * the CPU went. Its own database and vhost (`tickwork_bench`), dropped first.
 */
export async function tickworkThroughput(o: ThroughputOptions): Promise<Result> {
  await resetWorld();
  const env = {
    PORT: String(o.port),
    WORKER_CONCURRENCY: String(o.concurrency),
    WORKER_PREFETCH: String(o.prefetch),
  };
  return withHarness(env, async (h) => {
    await h.migrate();
    const db = h.pool(2);
    await startServices(h, db, o);
    const cpuBefore = cpuSnapshot();
    const started = performance.now();
    const acceptMs = o.path === 'api' ? await postEach(o) : await postBatches(o);
    const acceptedAt = performance.now();
    await until(
      async () =>
        (await count(db, `SELECT count(*)::int AS n FROM runs WHERE status = 'succeeded'`)) === o.tasks,
      600_000,
      'every run succeeded',
      () => h.assertAlive(),
      100,
    );
    const done = performance.now();
    const usage = h.usage();
    const cpu = cpuBetween(cpuBefore, cpuSnapshot(), labelProcess);
    const pickup = await pickupMs(db);
    acceptMs.sort((a, b) => a - b);
    const peakRss = (script: string) =>
      Math.max(0, ...usage.filter((u) => u.script.includes(script)).map((u) => u.peakRssMiB));
    const cpuMicrosPerTask = Object.fromEntries(
      cpu.map(({ process, cpuSeconds }) => [`cpuUs.${process}`, Math.round((cpuSeconds * 1e6) / o.tasks)]),
    );
    return report({
      system: 'tickwork',
      scenario: 'throughput',
      params: {
        path: o.path,
        tasks: o.tasks,
        workers: o.workers,
        concurrency: o.concurrency,
        prefetch: o.prefetch,
        inflight: o.inflight,
        ...(o.path === 'client' ? { batch: o.batch } : {}),
      },
      metrics: {
        perSec: Math.round(o.tasks / ((done - started) / 1000)),
        acceptPerSec: Math.round(o.tasks / ((acceptedAt - started) / 1000)),
        acceptP50Ms: round(percentile(acceptMs, 50)),
        acceptP99Ms: round(percentile(acceptMs, 99)),
        pickupP50Ms: round(pickup.p50),
        pickupP99Ms: round(pickup.p99),
        apiPeakRssMiB: peakRss('apps/api'),
        workerPeakRssMiB: peakRss('apps/worker'),
        schedulerPeakRssMiB: peakRss('apps/scheduler'),
        ...cpuMicrosPerTask,
      },
    });
  });
}

const round = (n: number) => Number(n.toFixed(1));
const count = async (db: pg.Pool, sql: string) => (await db.query<{ n: number }>(sql)).rows[0]!.n;

async function startServices(h: Harness, db: pg.Pool, o: ThroughputOptions): Promise<void> {
  h.start('apps/api/src/main.ts');
  h.start('apps/scheduler/src/main.ts');
  for (let i = 0; i < o.workers; i++) h.start('apps/worker/src/main.ts');
  const alive = () => h.assertAlive();
  const ready = async () => (await fetch(`http://127.0.0.1:${o.port}/readyz`)).ok;
  await until(ready, 30_000, 'api ready', alive);
  const live = `SELECT count(*)::int AS n FROM workers WHERE stopped_at IS NULL`;
  await until(async () => (await count(db, live)) === o.workers, 30_000, 'workers registered', alive);
}

/** Runs `send` from `inflight` loops until `total` units are sent; returns each call's latency. */
async function inFlight(inflight: number, total: number, send: (i: number) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inflight, total) }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await send(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return latencies;
}

/** One POST /tasks per task, over keep-alive connections. */
async function postEach(o: ThroughputOptions): Promise<number[]> {
  const client = new JsonClient(new URL(`http://127.0.0.1:${o.port}`), o.inflight);
  try {
    return await inFlight(o.inflight, o.tasks, async (i) => {
      const response = await client.request('POST', '/api/v1/tasks', { task: 'diag.echo', args: { i } });
      if (response.status !== 202) throw new Error(`POST /tasks: ${response.status} ${response.body}`);
    });
  } finally {
    client.close();
  }
}

/** The SDK's enqueueMany: `batch` tasks per request. */
async function postBatches(o: ThroughputOptions): Promise<number[]> {
  const client = new TickworkClient({ baseUrl: `http://127.0.0.1:${o.port}` });
  const batches = Math.ceil(o.tasks / o.batch);
  return inFlight(o.inflight, batches, async (b) => {
    const size = Math.min(o.batch, o.tasks - b * o.batch);
    const tasks = Array.from({ length: size }, (_, k) => ({
      task: 'diag.echo',
      args: { i: b * o.batch + k },
    }));
    await client.enqueueMany(tasks);
  });
}

/** Due → started of every run, p50 and p99, in ms (PostgreSQL's clock on both ends). */
async function pickupMs(db: pg.Pool): Promise<{ p50: number; p99: number }> {
  const { rows } = await db.query<{ p50: number; p99: number }>(
    `SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
            percentile_disc(0.99) WITHIN GROUP (ORDER BY ms) AS p99
     FROM (SELECT (extract(epoch FROM started_at - due_at) * 1000)::float8 AS ms FROM runs) AS pickup`,
  );
  return rows[0]!;
}
