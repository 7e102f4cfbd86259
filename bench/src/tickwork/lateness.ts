import type pg from 'pg';
import { JsonClient } from '../http.js';
import {
  countCheck,
  delayedLateness,
  delayedSucceeded,
  duplicateFires,
  lateness,
  lostMarks,
  missedRuns,
  one,
  OURS,
  stats,
  unfinished,
  unpublished,
  type Window,
} from '../lateness-checks.js';
import { report, type Result } from '../results.js';
import { resetWorld, sleep, TimedOut, until, withHarness, WORLD, type Harness } from '../support.js';
import { createSchedules, dbNowMs, LEAD_MS, periodSeconds, POLICY, type SchedulePlan } from './schedules.js';

export interface LatenessOptions extends SchedulePlan {
  schedulers: number;
  /** Worker processes; with 0 runs stay queued, so only the scheduler (insert, publish) is measured. */
  workers: number;
  /** Delayed `diag.echo` tasks due per second of the window (needs workers). */
  delayedPerSecond: number;
}

/**
 * How late Tickwork runs what is due, against real api, K scheduler and W worker processes, while N
 * schedules fire (~100 fires/s in all; see schedules.ts and docs/benchmarks.md):
 * - 'schedule-lateness': per fire in the window, started_at − scheduled_for (what the peers measure:
 *   processor start − intended time), plus publish (published_at) and insert (created_at) lateness;
 * - 'delayed-lateness': `delayedPerSecond` tasks with a `runAt` spread over the same window, started_at −
 *   due_at. They are enqueued before the window, as the peers add theirs before the first is due.
 * Checks (any fails the Result): duplicate, missed, miscounted, unpublished or unfinished fires, and
 * delayed tasks that did not succeed. `lostMarks` (started runs without published_at) is only reported.
 */
export async function tickworkLateness(o: LatenessOptions): Promise<Result[]> {
  // Without workers no run finishes, so the per-second probe reaches maxInstances after 1000 fires and
  // would start counting misses that say nothing about the scheduler.
  if (o.workers === 0 && LEAD_MS / 1000 + o.warmup + o.seconds + 60 > POLICY.maxInstances)
    throw new Error('with 0 workers keep warm-up + seconds under ~900 s, or add a worker');
  await resetWorld();
  return withHarness({ PORT: String(o.port), WORKER_CONCURRENCY: '50' }, async (h) => {
    await h.migrate();
    const db = h.pool(2);
    await startServices(h, db, o);
    const window = await createSchedules(db, o);
    const delayed = o.workers > 0 ? await enqueueDelayed(o, window) : 0;
    if ((await dbNowMs(db)) > window.fromMs) throw new Error('setup overran the warm-up; raise the warm-up');
    await awaitWindow(h, db, window, o, delayed);
    const rss = peakRss(h);
    const results = [await scheduleResult(db, window, o, rss)];
    if (delayed > 0) results.push(await delayedResult(db, o, delayed));
    return results.map(report);
  });
}

async function startServices(h: Harness, db: pg.Pool, o: LatenessOptions): Promise<void> {
  h.start('apps/api/src/main.ts');
  for (let i = 0; i < o.schedulers; i++) h.start('apps/scheduler/src/main.ts');
  for (let i = 0; i < o.workers; i++) h.start('apps/worker/src/main.ts');
  const alive = () => h.assertAlive();
  const count = async (sql: string, params: unknown[] = []) => (await one<{ n: number }>(db, sql, params)).n;
  await until(async () => (await fetch(`http://127.0.0.1:${o.port}/readyz`)).ok, 60_000, 'api ready', alive);
  // Each scheduler LISTENs on its own session once started: a live replica, whatever its clock.
  const listeners = `SELECT count(*)::int AS n FROM pg_stat_activity
                     WHERE datname = $1 AND application_name = 'tickwork-listener'`;
  await until(async () => (await count(listeners, [WORLD])) === o.schedulers, 60_000, 'schedulers', alive);
  const live = `SELECT count(*)::int AS n FROM workers WHERE stopped_at IS NULL`;
  await until(async () => (await count(live)) === o.workers, 60_000, 'workers registered', alive);
}

/** The delayed tasks, due evenly over the window (ms-precision runAt), in batches; returns how many. */
async function enqueueDelayed(o: LatenessOptions, w: Window): Promise<number> {
  const total = o.delayedPerSecond * o.seconds;
  const client = new JsonClient(new URL(`http://127.0.0.1:${o.port}`), 1);
  try {
    for (let from = 0; from < total; from += 1000) {
      const tasks = Array.from({ length: Math.min(1000, total - from) }, (_, k) => ({
        task: 'diag.echo',
        args: { i: from + k },
        runAt: new Date(w.fromMs + Math.floor(((from + k) * (w.toMs - w.fromMs)) / total)).toISOString(),
      }));
      const response = await client.request('POST', '/api/v1/tasks/batch', { tasks });
      if (response.status !== 202) throw new Error(`POST /tasks/batch: ${response.status} ${response.body}`);
    }
  } finally {
    client.close();
  }
  return total;
}

/** A wait that times out is not fatal: what did not arrive is reported (and fails the run) below. */
const tolerateTimeout = (wait: Promise<void>) =>
  wait.catch((error: unknown) => {
    if (!(error instanceof TimedOut)) throw error;
    console.error(`bench: ${error.message}; reporting what arrived`);
  });

/**
 * Sleeps through the window (no polling to disturb it), then waits until every schedule has moved past
 * it, so each due time in it has its run, until those runs are published (the relay retries after 5 s)
 * and, with workers, until they and the delayed tasks have succeeded.
 */
async function awaitWindow(h: Harness, db: pg.Pool, w: Window, o: LatenessOptions, delayed: number) {
  await sleep(Math.max(0, w.toMs - (await dbNowMs(db))));
  const alive = () => h.assertAlive();
  const behind = `SELECT count(*)::int AS n FROM schedules WHERE ${OURS} AND enabled AND next_run_at < $1`;
  const passed = async () => (await one<{ n: number }>(db, behind, [new Date(w.toMs)])).n === 0;
  await tolerateTimeout(until(passed, 120_000, 'every schedule to pass the window', alive));
  const published = async () => (await unpublished(db, w)) === 0;
  await tolerateTimeout(until(published, 60_000, 'every run in the window to be published', alive));
  if (o.workers === 0) return;
  const finished = async () => (await unfinished(db, w)) === 0 && (await delayedSucceeded(db)) === delayed;
  await tolerateTimeout(until(finished, 60_000, 'every run to succeed', alive));
}

/** Peak RSS of each kind of service running (the largest replica's), read before the harness stops them. */
function peakRss(h: Harness): Record<string, number> {
  const usage = h.usage();
  const kinds = {
    apiPeakRssMiB: 'apps/api',
    schedulerPeakRssMiB: 'apps/scheduler',
    workerPeakRssMiB: 'apps/worker',
  };
  return Object.fromEntries(
    Object.entries(kinds).flatMap(([metric, script]) => {
      const peaks = usage.filter((u) => u.script.includes(script)).map((u) => u.peakRssMiB);
      return peaks.length > 0 ? [[metric, Math.max(...peaks)]] : [];
    }),
  );
}

/** p50/p99/max of `values` as `<prefix>P50Ms`… (plain `p50Ms`… without a prefix); none if empty. */
function latenessMetrics(prefix: string, values: number[]): Record<string, number> {
  const s = stats(values);
  if (!s) return {};
  const name = (n: string) => (prefix ? `${prefix}${n[0]!.toUpperCase()}${n.slice(1)}` : n);
  return { [name('p50Ms')]: s.p50, [name('p99Ms')]: s.p99, [name('maxMs')]: s.max };
}

/** "a=1, b=2" for every non-zero count, or undefined when all are zero. */
function failures(counts: Record<string, number>): string | undefined {
  const bad = Object.entries(counts).filter(([, n]) => n > 0);
  return bad.length > 0 ? bad.map(([k, n]) => `${k}=${n}`).join(', ') : undefined;
}

async function scheduleResult(
  db: pg.Pool,
  w: Window,
  o: LatenessOptions,
  rss: Record<string, number>,
): Promise<Result> {
  const late = await lateness(db, w);
  const counts = await countCheck(db, w);
  const checks = {
    duplicates: await duplicateFires(db, w),
    countMismatches: counts.mismatches,
    unpublished: await unpublished(db, w),
    ...(o.workers > 0 ? { unfinished: await unfinished(db, w) } : {}),
    missed: await missedRuns(db),
  };
  const failed = late.insert.length === 0 ? 'no fires' : failures(checks);
  // Reported, not failed: the run was delivered and finished; only its published_at bookkeeping is off.
  const marksLost = await lostMarks(db, w);
  if (marksLost > 0) console.error(`bench: ${marksLost} started runs have no published_at (a lost mark)`);
  return {
    system: 'tickwork',
    scenario: 'schedule-lateness',
    params: {
      schedules: o.schedules,
      schedulers: o.schedulers,
      workers: o.workers,
      seconds: o.seconds,
      spread: o.spread,
      periodSeconds: periodSeconds(o.schedules),
    },
    metrics: {
      count: late.insert.length,
      expectedFires: counts.expected,
      firesPerSec: Number((late.insert.length / o.seconds).toFixed(1)),
      // The headline, comparable with the peers': due to a worker starting the run.
      ...(o.workers > 0 ? latenessMetrics('', late.start) : {}),
      ...latenessMetrics('publish', late.publish),
      ...latenessMetrics('insert', late.insert),
      ...checks,
      lostMarks: marksLost,
      ...rss,
    },
    ...(failed ? { failed } : {}),
  };
}

async function delayedResult(db: pg.Pool, o: LatenessOptions, tasks: number): Promise<Result> {
  const late = await delayedLateness(db);
  const lost = tasks - late.succeeded;
  return {
    system: 'tickwork',
    scenario: 'delayed-lateness',
    params: { tasks, seconds: o.seconds, schedules: o.schedules, workers: o.workers },
    metrics: { count: late.start.length, ...latenessMetrics('', late.start), lost },
    ...(lost > 0 ? { failed: `${lost} of ${tasks} delayed tasks did not succeed` } : {}),
  };
}
