import pg from 'pg';
import PgBoss from 'pg-boss';
import { report, type Result } from '../results.js';
import { until } from '../support.js';
import * as common from './common.js';
import {
  Child,
  failFast,
  inChunks,
  latenessMetrics,
  now,
  stopAll,
  uniqueName,
  type ChildIo,
} from './common.js';

/**
 * pg-boss 10 beside Tickwork, in a database of its own (`tickwork_bench_pgboss`, dropped first and
 * afterwards). Jobs go in with `insert` (one statement per chunk of 100, four chunks in flight), the
 * fastest documented path. Concurrency N is one `work()` with `batchSize: N` whose handler runs the N
 * jobs at once: pg-boss 10 dropped teamSize/teamConcurrency, and one fetch of N rows is cheaper than
 * N polling loops. A worker loop sleeps `pollingIntervalSeconds` (0.5 s at least) after every fetch,
 * even a full one, which would cap a loop at 2 batches a second; the handler calls `notifyWorker` (a
 * documented API) so a backlog drains at full speed and the poll only paces an idle worker. Completed
 * jobs are kept (pg-boss archives them after 12 h), as Tickwork keeps its runs.
 */
const DATABASE = 'tickwork_bench_pgboss';
const POLLING_SECONDS = 0.5; // pg-boss's minimum

interface JobData {
  due?: number;
}

/** No maintenance or cron in the bench's measurements unless asked: they would add their own load. */
async function startBoss(options: PgBoss.ConstructorOptions = {}): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: common.databaseUrl(DATABASE),
    supervise: false,
    schedule: false,
    ...options,
  });
  boss.on('error', (error) => console.error('pg-boss:', error.message));
  await common.within(boss.start(), 60_000, 'pg-boss start');
  return boss;
}

const stopBoss = (boss: PgBoss) =>
  common.within(boss.stop({ graceful: true, wait: true, timeout: 10_000 }), 20_000, 'pg-boss stop');

/** Starts a worker of `concurrency` on `queue`; `each` runs for every job, at the batch's start. */
async function work(
  boss: PgBoss,
  queue: string,
  concurrency: number,
  each: (job: PgBoss.Job<JobData>, startedAt: number) => void = () => undefined,
): Promise<string> {
  // Known once work() resolves, which is before its first fetch can return.
  const worker = { id: '' };
  worker.id = await boss.work<JobData>(
    queue,
    { batchSize: concurrency, pollingIntervalSeconds: POLLING_SECONDS },
    async (jobs) => {
      const startedAt = Date.now();
      // The no-op tasks, all at once: each yields to the event loop once, as an async task would.
      await Promise.all(
        jobs.map(async (job) => {
          each(job, startedAt);
          await new Promise<void>((resolve) => setImmediate(resolve));
        }),
      );
      if (worker.id) boss.notifyWorker(worker.id);
    },
  );
  return worker.id;
}

/** A fresh database with pg-boss's schema, a queue, and the database dropped at the end. */
async function withWorld<T>(
  body: (boss: PgBoss, queue: string) => Promise<T>,
  options?: PgBoss.ConstructorOptions,
) {
  await common.recreateDatabase(DATABASE);
  try {
    const boss = await startBoss(options);
    try {
      const queue = uniqueName('bench');
      await boss.createQueue(queue);
      return await body(boss, queue);
    } finally {
      await stopBoss(boss);
    }
  } finally {
    await common.dropDatabase(DATABASE);
  }
}

export interface PgBossWorkerArgs {
  queue: string;
  concurrency: number;
}

/** A worker process: no-op jobs at the given concurrency until the bench says stop. */
export async function pgbossWorker(a: PgBossWorkerArgs, io: ChildIo): Promise<void> {
  const boss = await startBoss({ migrate: false });
  try {
    await work(boss, a.queue, a.concurrency);
    io.tell({ type: 'ready' });
    await io.stopped;
  } finally {
    await stopBoss(boss);
  }
}

export async function pgbossThroughput(o: {
  jobs: number;
  concurrency: number;
  workers: number;
}): Promise<Result> {
  const deadlineMs = 60_000 + o.jobs * 10;
  return withWorld(async (boss, queue) => {
    const db = new pg.Pool({ connectionString: common.databaseUrl(DATABASE), max: 1 });
    const args: PgBossWorkerArgs = { queue, concurrency: o.concurrency };
    const workers = Array.from({ length: o.workers }, () => new Child('pgboss-worker', args));
    try {
      await Promise.all(workers.map((w) => w.wait('ready', 60_000)));
      const started = now();
      await inChunks(o.jobs, 100, 4, (_, count) =>
        boss.insert(Array.from({ length: count }, () => ({ name: queue, data: {} }))),
      );
      // Completion is written after the handler returns, without being awaited: count it in the table.
      // `until` counts a throwing probe as false, so failures are thrown by its check instead.
      let failed = 0;
      await until(
        async () => {
          const { rows } = await db.query<{ completed: number; failed: number }>(
            `SELECT count(*) FILTER (WHERE state = 'completed')::int AS completed,
                    count(*) FILTER (WHERE state = 'failed')::int AS failed
               FROM pgboss.job WHERE name = $1`,
            [queue],
          );
          const counts = rows[0] ?? { completed: 0, failed: 0 };
          failed = counts.failed;
          return counts.completed === o.jobs;
        },
        deadlineMs,
        'all pg-boss jobs completed',
        failFast(workers, () => (failed ? `${failed} pg-boss jobs failed` : undefined)),
      );
      const seconds = (now() - started) / 1000;
      return report({
        system: 'pg-boss',
        scenario: 'throughput',
        params: { jobs: o.jobs, concurrency: o.concurrency, workers: o.workers },
        metrics: { perSec: Math.round(o.jobs / seconds), wallSeconds: Number(seconds.toFixed(2)) },
      });
    } finally {
      await stopAll(workers);
      await db.end();
    }
  });
}

/** Jobs with `startAfter`, due spread evenly over `spreadMs`; lateness = handler start − due. */
export async function pgbossDelayedLateness(o: { jobs: number; spreadMs: number }): Promise<Result> {
  return withWorld(async (boss, queue) => {
    const late: number[] = [];
    await work(boss, queue, 50, (job, startedAt) => late.push(startedAt - (job.data.due ?? Number.NaN)));
    // The first job is due after every job was inserted, so inserting never makes a job late.
    const first = Date.now() + 2000;
    const due = (i: number) => first + Math.floor((i * o.spreadMs) / o.jobs);
    await inChunks(o.jobs, 100, 4, (from, count) =>
      boss.insert(
        Array.from({ length: count }, (_, k) => {
          const at = due(from + k);
          return { name: queue, data: { due: at }, startAfter: new Date(at) };
        }),
      ),
    );
    await until(async () => Promise.resolve(late.length >= o.jobs), o.spreadMs + 60_000, 'delayed jobs run');
    return report({
      system: 'pg-boss',
      scenario: 'delayed-lateness',
      params: { jobs: o.jobs, spreadMs: o.spreadMs },
      metrics: latenessMetrics(late),
    });
  });
}

/**
 * One schedule: pg-boss's cron has minute granularity, so this waits for `fires` minute boundaries
 * (about a minute each). The cron monitor and its worker run at their fastest (every 1 s). A job
 * carries no intended time, so a fire's is its minute boundary (fires lag far less than a minute). A
 * new schedule fires at once for the minute already begun; that fire is not counted.
 */
export async function pgbossScheduleLateness(o: { fires: number }): Promise<Result> {
  const options = { schedule: true, cronMonitorIntervalSeconds: 1, cronWorkerIntervalSeconds: 1 };
  return withWorld(async (boss, queue) => {
    const late: number[] = [];
    const created = Date.now();
    await work(boss, queue, 1, (_, startedAt) => {
      const boundary = Math.floor(startedAt / 60_000) * 60_000;
      if (boundary > created) late.push(startedAt - boundary);
    });
    await boss.schedule(queue, '* * * * *');
    await until(async () => Promise.resolve(late.length >= o.fires), o.fires * 60_000 + 30_000, 'cron fires');
    return report({
      system: 'pg-boss',
      scenario: 'schedule-lateness',
      params: { schedules: 1, fires: o.fires },
      metrics: latenessMetrics(late),
    });
  }, options);
}
