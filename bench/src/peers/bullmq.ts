import type { Job } from 'bullmq';
import { report, type Result } from '../results.js';
import { until } from '../support.js';
import { withBull, type BullBackend } from './bullmq-backend.js';
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

export type { BullBackend } from './bullmq-backend.js';

/**
 * BullMQ 6 beside Tickwork: no-op jobs, added with `addBulk` in chunks of 100 (four chunks in flight),
 * consumed by Worker instances with the given concurrency, each in a process of its own. Completed
 * jobs are kept (BullMQ's default, as Tickwork keeps its runs): dropping them would spare BullMQ
 * writes Tickwork does. Each run has its own queue name and key prefix, obliterated afterwards.
 * `backend` (see bullmq-backend.ts) is Redis unless told otherwise.
 */

interface JobData {
  due?: number;
}

export interface BullWorkerArgs {
  backend: BullBackend;
  queue: string;
  prefix: string;
  concurrency: number;
}

/** The no-op task: yields to the event loop once, as an async task would. */
const noop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A worker process: no-op jobs at the given concurrency, until the bench says stop. */
export async function bullmqWorker(a: BullWorkerArgs, io: ChildIo): Promise<void> {
  await withBull(a.backend, undefined, async ({ classes, connection }) => {
    const options = { connection, prefix: a.prefix, concurrency: a.concurrency };
    const worker = new classes.Worker(a.queue, noop, options);
    try {
      await worker.waitUntilReady();
      io.tell({ type: 'ready' });
      await io.stopped;
    } finally {
      await worker.close();
    }
  });
}

/** One scenario's queue, whatever the backend: a unique name and prefix, obliterated at the end. */
interface BenchQueue {
  name: string;
  prefix: string;
  add(jobs: Array<{ data: JobData; delay?: number }>): Promise<unknown>;
  schedule(id: string): Promise<unknown>;
  counts(): Promise<{ completed?: number; failed?: number }>;
  /** Starts an in-process worker (closed at the end) whose processor first calls `onJob`. */
  work(concurrency: number, onJob: (job: Job<JobData>, startedAt: number) => void): Promise<void>;
}

async function withQueue<T>(backend: BullBackend, body: (queue: BenchQueue) => Promise<T>): Promise<T> {
  const name = uniqueName('bench');
  const prefix = uniqueName('bench-bull');
  return withBull(backend, prefix, async ({ classes, connection }) => {
    const queue = new classes.Queue<JobData>(name, { connection, prefix });
    const workers: Array<{ close(): Promise<void> }> = [];
    try {
      await queue.waitUntilReady();
      return await body({
        name,
        prefix,
        add: (jobs) =>
          queue.addBulk(jobs.map(({ data, delay }) => ({ name: 'noop', data, opts: { delay } }))),
        schedule: (id) => queue.upsertJobScheduler(id, { pattern: '* * * * * *' }, { name: 'tick' }),
        counts: () => queue.getJobCounts('completed', 'failed'),
        work: async (concurrency, onJob) => {
          const processor = async (job: Job<JobData>) => {
            onJob(job, Date.now());
            await noop();
          };
          const worker = new classes.Worker<JobData>(name, processor, { connection, prefix, concurrency });
          workers.push(worker);
          await worker.waitUntilReady();
        },
      });
    } finally {
      await Promise.allSettled(workers.map((worker) => worker.close()));
      await queue.obliterate({ force: true }).catch((e: unknown) => console.error('obliterate:', e));
      await queue.close();
    }
  });
}

export async function bullmqThroughput(o: {
  jobs: number;
  concurrency: number;
  workers: number;
  backend?: BullBackend;
}): Promise<Result> {
  const backend = o.backend ?? 'redis';
  return withQueue(backend, async (queue) => {
    const args: BullWorkerArgs = {
      backend,
      queue: queue.name,
      prefix: queue.prefix,
      concurrency: o.concurrency,
    };
    const workers = Array.from({ length: o.workers }, () => new Child('bullmq-worker', args));
    try {
      await Promise.all(workers.map((w) => w.wait('ready', 30_000)));
      const started = now();
      await inChunks(o.jobs, 100, 4, (_, count) =>
        queue.add(Array.from({ length: count }, () => ({ data: {} }))),
      );
      // `until` counts a throwing probe as false, so failures are thrown by its check instead.
      let failed = 0;
      const done = async () => {
        const counts = await queue.counts();
        failed = counts.failed ?? 0;
        return counts.completed === o.jobs;
      };
      const check = failFast(workers, () => (failed ? `${failed} BullMQ jobs failed` : undefined));
      await until(done, 60_000 + o.jobs * 10, 'all BullMQ jobs completed', check);
      const seconds = (now() - started) / 1000;
      return report({
        system: 'bullmq',
        scenario: 'throughput',
        params: { jobs: o.jobs, concurrency: o.concurrency, workers: o.workers, backend },
        metrics: { perSec: Math.round(o.jobs / seconds), wallSeconds: Number(seconds.toFixed(2)) },
      });
    } finally {
      await stopAll(workers);
    }
  });
}

/**
 * Jobs added with `delay`, due spread evenly over `spreadMs`; lateness = processor start − due. The
 * worker (concurrency 50) shares the bench's process: it idles between jobs, so that costs it nothing.
 */
export async function bullmqDelayedLateness(o: {
  jobs: number;
  spreadMs: number;
  backend?: BullBackend;
}): Promise<Result> {
  const backend = o.backend ?? 'redis';
  return withQueue(backend, async (queue) => {
    const late: number[] = [];
    await queue.work(50, (job, startedAt) => late.push(startedAt - (job.data.due ?? Number.NaN)));
    // The first job is due after every job was added, so adding never makes a job late.
    const first = Date.now() + 2000;
    const due = (i: number) => first + Math.floor((i * o.spreadMs) / o.jobs);
    await inChunks(o.jobs, 100, 4, (from, count) =>
      queue.add(
        Array.from({ length: count }, (_, k) => ({
          data: { due: due(from + k) },
          delay: due(from + k) - Date.now(),
        })),
      ),
    );
    await until(async () => Promise.resolve(late.length >= o.jobs), o.spreadMs + 60_000, 'delayed jobs run');
    return report({
      system: 'bullmq',
      scenario: 'delayed-lateness',
      params: { jobs: o.jobs, spreadMs: o.spreadMs, backend },
      metrics: latenessMetrics(late),
    });
  });
}

/**
 * `schedulers` job schedulers firing every second (cron `* * * * * *`, BullMQ's finest), measured over
 * `seconds` after a 5 s warm-up. A fire's intended time is `job.opts.prevMillis`: the `nextMillis`
 * the scheduler computed for that iteration (its job id is `repeat:<id>:<nextMillis>`). A scheduler
 * that falls behind skips seconds rather than queue them, so `count` below `expectedFires` shows it.
 */
export async function bullmqRepeatLateness(o: {
  schedulers: number;
  seconds: number;
  backend?: BullBackend;
}): Promise<Result> {
  const backend = o.backend ?? 'redis';
  return withQueue(backend, async (queue) => {
    const late: number[] = [];
    let [from, to] = [Infinity, Infinity];
    await queue.work(50, (job, startedAt) => {
      const intended = job.opts.prevMillis;
      if (intended !== undefined && intended >= from && intended < to) late.push(startedAt - intended);
    });
    const t0 = Date.now();
    await inChunks(o.schedulers, 1, 50, (i) => queue.schedule(`s${i}`));
    const upsertSeconds = (Date.now() - t0) / 1000;
    from = Math.ceil((Date.now() + 5000) / 1000) * 1000;
    to = from + o.seconds * 1000;
    const expectedFires = o.schedulers * o.seconds;
    // Fires lag their second: give the last ones 10 s past the window (missing ones count as missed).
    const all = async () => Promise.resolve(late.length >= expectedFires);
    await until(all, to + 10_000 - Date.now(), 'window').catch(() => undefined);
    return report({
      system: 'bullmq',
      scenario: 'schedule-lateness',
      params: { schedulers: o.schedulers, seconds: o.seconds, backend },
      metrics: { ...latenessMetrics(late), expectedFires, upsertSeconds },
    });
  });
}
