import { parseArgs } from 'node:util';
import type pg from 'pg';
// Type-only (erased at run time): the bulk INSERT must write exactly the trigger shape the API stores.
import type { IntervalTrigger, Trigger } from '@tickwork/shared';
import { resetWorld, sleep, TimedOut, until, withHarness, WORLD, type Harness } from './support.js';
import {
  countCheck,
  duplicateFires,
  lateness,
  missedRuns,
  one,
  OURS,
  PROBE,
  stats,
  unpublished,
  type Stats,
  type Window,
} from './lateness-checks.js';

/**
 * Firing lateness of the scheduler: how long after a schedule's due time (`scheduled_for`) its run is
 * inserted (`created_at`) and its message confirmed by RabbitMQ (`published_at`), with N schedules
 * firing at a steady rate against real api + K scheduler (+ W worker) processes. See docs/benchmarks.md.
 */
const { values } = parseArgs({
  options: {
    schedules: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '30' },
    schedulers: { type: 'string', default: '1' },
    workers: { type: 'string', default: '0' },
    warmup: { type: 'string', default: '5' },
    spread: { type: 'string', default: 'ms' },
    port: { type: 'string', default: '3917' },
  },
});

function whole(option: keyof typeof values, min: number): number {
  const n = Number(values[option]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${option} must be a whole number ≥ ${min}`);
  return n;
}

const schedules = whole('schedules', 1);
const seconds = whole('seconds', 1);
const schedulers = whole('schedulers', 1);
const workers = whole('workers', 0);
const warmup = whole('warmup', 1);
const port = whole('port', 1);
const spread = values.spread;
if (spread !== 'ms' && spread !== 'second') throw new Error('--spread must be ms or second');

/**
 * Sent to the API and written by the bulk INSERT alike. maxInstances is the API's maximum, so runs left
 * queued (no workers) do not hold fires back; retries 0 keeps a failing echo from adding runs.
 */
const POLICY = {
  maxRetries: 0,
  timeoutSeconds: 60,
  misfireGraceSeconds: 60,
  coalesce: true,
  maxInstances: 1000,
};
/** N schedules fire about this often per second in all: the period is N / 100 seconds. */
const TARGET_FIRES_PER_SECOND = 100;
/** Interval schedules (all but the probe) and their common period. */
const intervals = schedules - 1;
const periodSeconds = Math.max(1, Math.round(schedules / TARGET_FIRES_PER_SECOND));
/** From the start of creation to the first interval fire; a slower setup only eats into the warm-up. */
const LEAD_MS = 3000;
const INSERT_CHUNK = 5000;

// Without workers no run finishes, so the per-second probe reaches maxInstances after 1000 fires and
// would start counting misses that say nothing about the scheduler.
if (workers === 0 && LEAD_MS / 1000 + warmup + seconds + 60 > POLICY.maxInstances) {
  throw new Error('with --workers 0 keep warm-up + --seconds under ~900 s, or add --workers 1');
}

const base = `http://127.0.0.1:${port}`;

const dbNowMs = async (db: pg.Pool) =>
  (await one<{ ms: number }>(db, `SELECT (extract(epoch FROM now()) * 1000)::float8 AS ms`)).ms;

async function startServices(h: Harness, db: pg.Pool): Promise<void> {
  h.start('apps/api/src/main.ts');
  for (let i = 0; i < schedulers; i++) h.start('apps/scheduler/src/main.ts');
  for (let i = 0; i < workers; i++) h.start('apps/worker/src/main.ts');
  const alive = () => h.assertAlive();
  const count = async (sql: string, params: unknown[] = []) => (await one<{ n: number }>(db, sql, params)).n;
  await until(async () => (await fetch(`${base}/readyz`)).ok, 60_000, 'api ready', alive);
  // Each scheduler LISTENs on its own session once started: a live replica, whatever its clock.
  const listeners = `SELECT count(*)::int AS n FROM pg_stat_activity
                     WHERE datname = $1 AND application_name = 'tickwork-listener'`;
  await until(async () => (await count(listeners, [WORLD])) === schedulers, 60_000, 'schedulers', alive);
  const live = `SELECT count(*)::int AS n FROM workers WHERE stopped_at IS NULL`;
  await until(async () => (await count(live)) === workers, 60_000, 'workers registered', alive);
}

async function postSchedule(name: string, trigger: Trigger): Promise<void> {
  const response = await fetch(`${base}/api/v1/schedules`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, task: 'diag.echo', trigger, ...POLICY }),
  });
  if (response.status !== 201)
    throw new Error(`POST /schedules: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

/**
 * Schedule i's first fire, `firstMs` + offset within one period. 'ms': offsets i·P/M apart, so fires
 * come one every ~10 ms; 'second': whole-second offsets, so ~100 fire together each second, like crons.
 */
function startAtMs(firstMs: number, i: number): number {
  const offset =
    spread === 'ms' ? Math.floor((i * periodSeconds * 1000) / intervals) : (i % periodSeconds) * 1000;
  return firstMs + offset;
}

const intervalTrigger = (startMs: number): IntervalTrigger => ({
  type: 'interval',
  seconds: periodSeconds,
  startAt: new Date(startMs).toISOString(),
});

/** Interval schedules [from, to), one statement per chunk: 10,000 API calls would drag setup out. */
async function bulkInsert(db: pg.Pool, firstMs: number, from: number, to: number): Promise<void> {
  for (let lo = from; lo < to; lo += INSERT_CHUNK) {
    const ids = Array.from({ length: Math.min(INSERT_CHUNK, to - lo) }, (_, k) => lo + k);
    await db.query(
      `INSERT INTO schedules (name, task, args, queue, trigger, enabled, max_retries, timeout_seconds,
                              misfire_grace_seconds, coalesce_missed, max_instances, next_run_at)
       SELECT f.name, 'diag.echo', '{}'::jsonb, 'default', f.trigger, true, $3, $4, $5, $6, $7,
              (f.trigger->>'startAt')::timestamptz
       FROM unnest($1::text[], $2::jsonb[]) AS f(name, trigger)`,
      [
        ids.map((i) => `interval-${i}`),
        ids.map((i) => JSON.stringify(intervalTrigger(startAtMs(firstMs, i)))),
        POLICY.maxRetries,
        POLICY.timeoutSeconds,
        POLICY.misfireGraceSeconds,
        POLICY.coalesce,
        POLICY.maxInstances,
      ],
    );
  }
}

/** Every interval schedule, the API-made one included, must agree on all but name and startAt. */
async function assertSameShape(db: pg.Pool): Promise<void> {
  const check = await one<{ n: number; shapes: number; off: number }>(
    db,
    `SELECT count(*)::int AS n,
            count(DISTINCT (task, args, queue, enabled, max_retries, timeout_seconds, misfire_grace_seconds,
                            coalesce_missed, max_instances, trigger - 'startAt'))::int AS shapes,
            count(*) FILTER (WHERE next_run_at IS DISTINCT FROM (trigger->>'startAt')::timestamptz
                               OR trigger->>'startAt' !~ '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$')::int AS off
     FROM schedules WHERE trigger->>'type' = 'interval'`,
  );
  if (check.n !== intervals || check.shapes !== 1 || check.off !== 0)
    throw new Error(`bulk schedules differ from the API's: ${JSON.stringify(check)}`);
}

/**
 * The probe cron, and the first interval schedule, go through the API; the rest are bulk-inserted and
 * checked against it. Returns the measuring window: whole seconds, `warmup` after the first fire.
 */
async function createSchedules(db: pg.Pool): Promise<Window> {
  const firstMs = Math.ceil((await dbNowMs(db)) / 1000) * 1000 + LEAD_MS;
  await postSchedule('probe', PROBE);
  if (intervals > 0) {
    await postSchedule('interval-0', intervalTrigger(startAtMs(firstMs, 0)));
    await bulkInsert(db, firstMs, 1, intervals);
    await assertSameShape(db);
  }
  const fromMs = firstMs + warmup * 1000;
  if ((await dbNowMs(db)) > fromMs)
    throw new Error('creating the schedules overran the warm-up; raise --warmup');
  return { fromMs, toMs: fromMs + seconds * 1000 };
}

/** A wait that times out is not fatal: what did not arrive is reported (and fails the run) below. */
const tolerateTimeout = (wait: Promise<void>) =>
  wait.catch((error: unknown) => {
    if (!(error instanceof TimedOut)) throw error;
    console.error(`bench: ${error.message}; reporting what arrived`);
  });

/**
 * Sleeps through the window (no polling to disturb it), then waits until every schedule has moved past
 * it, so each due time in it has its run, and until those runs are published (the relay retries after 5 s).
 */
async function awaitWindow(h: Harness, db: pg.Pool, w: Window): Promise<void> {
  await sleep(Math.max(0, w.toMs - (await dbNowMs(db))));
  const alive = () => h.assertAlive();
  const behind = `SELECT count(*)::int AS n FROM schedules WHERE ${OURS} AND enabled AND next_run_at < $1`;
  const passed = async () => (await one<{ n: number }>(db, behind, [new Date(w.toMs)])).n === 0;
  await tolerateTimeout(until(passed, 120_000, 'every schedule to pass the window', alive));
  const published = async () => (await unpublished(db, w)) === 0;
  await tolerateTimeout(until(published, 60_000, 'every run in the window to be published', alive));
}

interface Result {
  scenario: 'schedule-lateness';
  schedules: number;
  schedulers: number;
  workers: number;
  periodSeconds: number;
  spread: string;
  seconds: number;
  fires: number;
  expectedFires: number;
  firesPerSec: number;
  publishLatenessMs: Stats | null;
  insertLatenessMs: Stats | null;
  duplicates: number;
  countMismatches: number;
  unpublished: number;
  missed: number;
}

async function collect(db: pg.Pool, w: Window): Promise<Result> {
  const late = await lateness(db, w);
  const counts = await countCheck(db, w);
  return {
    scenario: 'schedule-lateness',
    schedules,
    schedulers,
    workers,
    periodSeconds,
    spread,
    seconds,
    fires: late.insert.length,
    expectedFires: counts.expected,
    firesPerSec: Number((late.insert.length / seconds).toFixed(1)),
    publishLatenessMs: stats(late.publish),
    insertLatenessMs: stats(late.insert),
    duplicates: await duplicateFires(db, w),
    countMismatches: counts.mismatches,
    unpublished: await unpublished(db, w),
    missed: await missedRuns(db),
  };
}

function report(r: Result): void {
  console.log(JSON.stringify(r));
  console.table({
    'fires in window': `${r.fires} of ${r.expectedFires} (${r.firesPerSec}/s)`,
    'publish lateness p50 / p99 / max (ms)': triple(r.publishLatenessMs),
    'insert lateness p50 / p99 / max (ms)': triple(r.insertLatenessMs),
    'duplicates / wrong counts / unpublished / missed': `${r.duplicates} / ${r.countMismatches} / ${r.unpublished} / ${r.missed}`,
  });
  const failed = Object.entries({
    duplicates: r.duplicates,
    countMismatches: r.countMismatches,
    unpublished: r.unpublished,
    missed: r.missed,
  }).filter(([, n]) => n > 0);
  if (failed.length > 0 || r.fires === 0) {
    console.error(
      `schedule-lateness FAILED: ${failed.map(([k, n]) => `${k}=${n}`).join(', ') || 'no fires'}`,
    );
    process.exitCode = 1;
  }
}

const triple = (s: Stats | null) => (s ? `${s.p50} / ${s.p99} / ${s.max}` : 'n/a');

await resetWorld();
const result = await withHarness({ PORT: String(port), WORKER_CONCURRENCY: '50' }, async (h) => {
  await h.migrate();
  const db = h.pool(2);
  await startServices(h, db);
  const window = await createSchedules(db);
  await awaitWindow(h, db, window);
  return collect(db, window);
});
report(result);
