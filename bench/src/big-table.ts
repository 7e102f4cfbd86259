import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import * as shared from '@tickwork/core';
import type { AttemptRef, MessageRef, Pool, PoolClient } from '@tickwork/core';
// The API's listRuns (its SQL is core's listRunRows); importing it keeps the query the real one.
import { argMatches, listRuns, type ArgFilterValues } from '../../apps/api/src/routes/runs.js';
// The bots extension contributes ?botConfigId= (and the index behind it), as in the API.
import { botsApiExtension } from '@tickwork/bots/api';
import { ExplainingDb, measure, type Measured } from './explain.js';
import { report, type Result } from './results.js';

/**
 * Issue 7: do the dispatcher's, workers' and API's hot queries stay flat as `runs` grows? Each real
 * query function is planned under EXPLAIN ANALYZE (rolled back) with only a live set of runs, then
 * again after `finishedRuns` finished runs. Runs in its own database, dropped at the end.
 */
const DB = 'tickwork_bench_big';
const root = fileURLToPath(new URL('../../', import.meta.url));
const adminUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbUrl = Object.assign(new URL(adminUrl), { pathname: `/${DB}` }).toString();
const SAMPLES = 5;

const uuid = (n: string) => `('00000000-0000-4000-8000-' || lpad((${n})::text, 12, '0'))::uuid`;
const LIVE_WORKER = '00000000-0000-4000-8000-000000000001';
// Task, queue and args by i: a few task names, scrape.bot runs naming their bot like the real ones,
// and cleanup.runs (queue cleanup) about once a day, as its default schedule runs it.
const DAILY = 'g.i % 30000 = 0';
const TASK = `CASE WHEN ${DAILY} THEN 'cleanup.runs' ELSE (ARRAY['email.send','email.send','email.send',
  'email.send','email.send','webhook.deliver','webhook.deliver','webhook.deliver','report.daily',
  'scrape.bot'])[1 + g.i % 10] END`;
const QUEUE = `CASE WHEN ${DAILY} THEN 'cleanup' WHEN g.i % 10 = 9 THEN 'scraping' ELSE 'default' END`;
const FIRST_SCHEDULE = `(SELECT min(id) FROM schedules WHERE name LIKE 'bench %')`;
const ARGS = `CASE g.i % 10 WHEN 9 THEN jsonb_build_object('botConfigId', 1 + g.i % 3)
  ELSE jsonb_build_object('n', g.i) END`;

/** Workers 1–4 live (they hold their presence lock), 5 dead (silent, no lock), 6 stopped; 20 schedules. */
async function seedLive(db: pg.Client, finishedRuns: number): Promise<void> {
  await db.query(`INSERT INTO workers (id, hostname, pid, queues, concurrency, heartbeat_interval_ms,
      last_heartbeat_at, stopped_at)
    SELECT ${uuid('k')}, 'bench-' || k, 1000 + k, ARRAY['default','cleanup','scraping'], 8, 5000,
      now() - CASE k WHEN 5 THEN interval '10 minutes' ELSE interval '0' END,
      CASE k WHEN 6 THEN now() - interval '1 hour' END
    FROM generate_series(1, 6) k`);
  // The session lock is how a live worker stays alive without heartbeats; this session holds it.
  await db.query(`SELECT pg_advisory_lock($1, lock_key) FROM workers WHERE pid <= 1004`, [
    shared.WORKER_LOCK_NAMESPACE,
  ]);
  await db.query(`INSERT INTO schedules (name, task, queue, trigger, max_retries, timeout_seconds,
      coalesce_missed, max_instances, next_run_at)
    SELECT 'bench ' || k, 'report.daily', 'default', '{"type":"cron","expression":"*/5 * * * *"}', 3,
      300, true, 1, now() + CASE WHEN k <= 5 THEN interval '-1 second' ELSE interval '4 minutes' END
    FROM generate_series(1, 20) k`);
  // Live runs take ids above the finished ones inserted later: history is older, as in production.
  await db.query(`SELECT setval(pg_get_serial_sequence('runs', 'id'), $1, false)`, [finishedRuns + 1]);
  // 200 queued (10 never published), 50 running (5 on the dead worker), 60 scheduled, 40 retrying;
  // the waiting ones are due within a day, and 10 of them are due now.
  await db.query(`INSERT INTO runs (task, args, queue, status, attempts, max_retries, timeout_seconds,
      schedule_id, scheduled_for, due_at, queued_at, published_at, worker_id, error, created_at, started_at)
    SELECT ${TASK}, ${ARGS}, ${QUEUE}, g.status, CASE WHEN g.status IN ('queued', 'scheduled') THEN 0 ELSE 1 END,
      3, 300, CASE WHEN g.i % 5 = 0 AND g.i <= 250 THEN ${FIRST_SCHEDULE} + g.i % 20 END,
      CASE WHEN g.i % 5 = 0 AND g.i <= 250 THEN now() - make_interval(secs => g.i) END,
      CASE WHEN g.i > 340 THEN now() - make_interval(secs => g.i - 340)
           WHEN g.i > 250 THEN now() + make_interval(mins => g.i - 250) * 10 ELSE now() - interval '1 minute' END,
      CASE WHEN g.i <= 250 THEN now() - make_interval(secs => g.i / 10.0) END,
      CASE WHEN g.i <= 250 AND g.i % 20 <> 0 THEN now() - make_interval(secs => g.i / 10.0) END,
      CASE WHEN g.status IN ('running', 'retrying') THEN ${uuid('CASE g.i % 10 WHEN 0 THEN 5 ELSE 1 + g.i % 4 END')} END,
      CASE WHEN g.status = 'retrying' THEN '{"type":"Error","message":"boom"}'::jsonb END,
      now() - interval '2 minutes', CASE WHEN g.status = 'running' THEN now() - make_interval(secs => g.i - 200) END
    FROM (SELECT i, CASE WHEN i <= 200 THEN 'queued' WHEN i <= 250 THEN 'running'
                         WHEN i <= 310 THEN 'scheduled' ELSE 'retrying' END AS status
          FROM generate_series(1, 350) i) g`);
}

/**
 * History: ids 1..n over the past 30 days in id order, ~97% succeeded, 2% failed, 1% cancelled (by a
 * hash of i, so status does not follow task), a fifth from schedules, a tenth with an idempotency key.
 */
async function seedFinished(db: pg.Client, n: number): Promise<void> {
  await db.query(
    `INSERT INTO runs (id, task, args, queue, status, attempts, max_retries, timeout_seconds,
      schedule_id, scheduled_for, due_at, queued_at, published_at, idempotency_key, result, error, worker_id,
      cancel_requested_at, created_at, started_at, finished_at)
    OVERRIDING SYSTEM VALUE
    SELECT g.i, ${TASK}, ${ARGS}, ${QUEUE}, g.status, CASE g.status WHEN 'failed' THEN 4 ELSE 1 END, 3, 300,
      CASE WHEN g.i % 5 = 0 THEN s.first + (g.i / 5) % 20 END, CASE WHEN g.i % 5 = 0 THEN g.at END,
      g.at, g.at, g.at + interval '5 ms', CASE WHEN g.k = 0 THEN 'key-' || g.i END,
      CASE g.status WHEN 'succeeded' THEN '{"ok":true}'::jsonb END,
      CASE g.status WHEN 'failed' THEN '{"type":"Error","message":"boom"}'::jsonb END,
      CASE WHEN g.status <> 'cancelled' THEN ${uuid('1 + g.i % 6')} END,
      CASE g.status WHEN 'cancelled' THEN g.at + interval '10 ms' END, g.at,
      CASE WHEN g.status <> 'cancelled' THEN g.at + interval '50 ms' END,
      g.at + interval '60 ms' + make_interval(secs => g.h / 20.0)
    FROM (SELECT i, h, k, now() - make_interval(secs => 300 + (1 - i::float8 / $1) * 2591700) AS at,
                 CASE WHEN h = 0 THEN 'cancelled' WHEN h <= 2 THEN 'failed' ELSE 'succeeded' END AS status
          FROM (SELECT i, (hashint4(i)::bigint & 65535) % 100 AS h, ((hashint4(i)::bigint >> 16) & 65535) % 10 AS k
                FROM generate_series(1, $1::int) i) x) g,
         (SELECT ${FIRST_SCHEDULE} AS first) s`,
    [n],
  );
}

/** Ids the point queries act on, taken from the live set. */
async function fixture(db: pg.Client) {
  const ids = async (sql: string) => (await db.query<{ id: number }>(sql)).rows.map((r) => Number(r.id));
  const running = await db.query<AttemptRef>(`SELECT id AS "runId", worker_id AS "workerId",
    attempts AS attempt FROM runs WHERE status = 'running' AND worker_id = '${LIVE_WORKER}' LIMIT 1`);
  const queued = await db.query<MessageRef>(`SELECT id AS "runId", task, queue FROM runs
    WHERE status = 'queued' AND published_at IS NOT NULL LIMIT 1`);
  const [scheduleId] = await ids(`SELECT ${FIRST_SCHEDULE} AS id`);
  if (!running.rows[0] || !queued.rows[0] || !scheduleId) throw new Error('live set incomplete');
  return {
    queued: { ...queued.rows[0], runId: Number(queued.rows[0].runId) },
    running: { ...running.rows[0], runId: Number(running.rows[0].runId) },
    unpublishedIds: await ids(`SELECT id FROM runs WHERE status = 'queued' AND published_at IS NULL`),
    workerRuns: await ids(`SELECT id FROM runs WHERE status = 'running' AND worker_id = '${LIVE_WORKER}'`),
    scheduleId,
  };
}

type Db = Pool & PoolClient;
type Case = [name: string, run: (db: Db) => Promise<unknown>];

/** The hot queries, called as the services call them (limits and intervals are their defaults). */
function cases(f: Awaited<ReturnType<typeof fixture>>): Case[] {
  const list = (db: Db, q: Parameters<typeof listRuns>[1], extension: ArgFilterValues = {}) =>
    listRuns(
      db,
      q,
      shared.loadConfig({}).apiLimits.listValueMaxBytes,
      argMatches(botsApiExtension.runFilters ?? [], extension),
    );
  const at = new Date('2100-01-01');
  const fire = {
    scheduleId: f.scheduleId,
    scheduledFor: at,
    task: 'report.daily',
    args: {},
    queue: 'default',
  };
  return [
    ['promoteDueRuns', (db) => shared.promoteDueRuns(db, 500)],
    ['takeUnpublishedRuns', (db) => shared.takeUnpublishedRuns(db, 5000, 500)],
    ['nextDueTime', (db) => shared.nextDueTime(db)],
    ['claimDueSchedules', (db) => shared.claimDueSchedules(db, 500)],
    [
      'insertScheduledRuns',
      (db) => shared.insertScheduledRuns(db, [{ ...fire, maxRetries: 3, timeoutSeconds: 300 }]),
    ],
    ['claimRun', (db) => shared.claimRun(db, f.queued, LIVE_WORKER)],
    ['recordSuccess', (db) => shared.recordSuccess(db, f.running, { ok: true })],
    ['recordFailure', (db) => shared.recordFailure(db, f.running, { type: 'Error', message: 'x' }, 1000)],
    ['markPublished', (db) => shared.markPublished(db, f.unpublishedIds)],
    ['cancelRequestedRuns', (db) => shared.cancelRequestedRuns(db, f.workerRuns, LIVE_WORKER)],
    ['reapRunsOfDeadWorkers', (db) => shared.reapRunsOfDeadWorkers(db)],
    ['deleteFinishedRuns(30d)', (db) => shared.deleteFinishedRuns(db, 30)],
    // A full batch (5000 rows): what the daily cleanup does once a day's runs cross the cutoff.
    ['deleteFinishedRuns(29d)', (db) => shared.deleteFinishedRuns(db, 29)],
    ['listRuns', (db) => list(db, { limit: 50 })],
    ['listRuns?status=failed', (db) => list(db, { status: 'failed', limit: 50 })],
    ['listRuns?task=report.daily', (db) => list(db, { task: 'report.daily', limit: 50 })],
    ['listRuns?task=cleanup.runs', (db) => list(db, { task: 'cleanup.runs', limit: 50 })],
    ['listRuns?queue=cleanup', (db) => list(db, { queue: 'cleanup', limit: 50 })],
    ['listRuns?scheduleId', (db) => list(db, { scheduleId: f.scheduleId, limit: 50 })],
    ['listRuns?botConfigId=1', (db) => list(db, { limit: 50 }, { botConfigId: 1 })],
    ['listWorkers', (db) => shared.listWorkers(db)],
  ];
}

async function measureAll(ex: ExplainingDb, all: Case[]): Promise<Map<string, Measured>> {
  const out = new Map<string, Measured>();
  for (const [name, run] of all) out.set(name, await measure(ex, run, SAMPLES));
  return out;
}

async function admin<T>(fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: adminUrl });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

function migrateBenchDb(): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: dbUrl, LOG_LEVEL: 'warn' },
    stdio: 'inherit',
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`migrate exited ${code}`))));
  });
}

export async function bigTableCheck(o: { finishedRuns: number }): Promise<Result[]> {
  const started = performance.now();
  const lap = (what: string) =>
    console.log(`[big-table] ${what} at ${((performance.now() - started) / 1000).toFixed(1)} s`);
  await admin((db) => db.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`));
  const seed = new pg.Client({ connectionString: dbUrl });
  const explain = new pg.Client({ connectionString: dbUrl });
  try {
    await migrateBenchDb();
    await Promise.all([seed.connect(), explain.connect()]);
    await seedLive(seed, o.finishedRuns);
    await seed.query('VACUUM ANALYZE');
    const ex = new ExplainingDb(explain);
    const all = cases(await fixture(seed));
    lap('migrated and live set seeded');
    const empty = await measureAll(ex, all);
    lap('measured with the live set only');
    await seed.query(`SET maintenance_work_mem = '256MB'`);
    await seedFinished(seed, o.finishedRuns);
    lap(`inserted ${o.finishedRuns} finished runs`);
    await seed.query('VACUUM ANALYZE');
    lap('vacuumed');
    const big = await measureAll(ex, all);
    lap('measured with the big table');
    return summary(empty, big, o.finishedRuns);
  } finally {
    await Promise.allSettled([seed.end(), explain.end()]);
    await admin((db) => db.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`));
  }
}

function summary(empty: Map<string, Measured>, big: Map<string, Measured>, runs: number): Result[] {
  const results: Result[] = [];
  const table = [];
  const notFlat: string[] = [];
  for (const [query, b] of big) {
    const e = empty.get(query);
    const emptyMs = e?.ms ?? NaN;
    // Slower only because it now has a full batch to do (few buffers per row) is not a scan that grows.
    const perRow = b.buffers / Math.max(1, b.rows);
    const grows = b.ms > 10 * emptyMs && b.ms > 5 && perRow > 20 && `GROWS ×${(b.ms / emptyMs).toFixed(0)}`;
    const flag = [b.seqScan && 'SEQ SCAN on runs', grows].filter(Boolean).join(', ');
    // Rows returned (or changed) and buffers per row tell a bigger batch from a bigger scan.
    const rows = `${e?.rows ?? NaN} → ${b.rows}`;
    if (flag) notFlat.push(`  ${query}: ${flag}; rows ${rows}, ${perRow.toFixed(1)} buffers/row; ${b.plan}`);
    const metrics = {
      emptyMs: round(emptyMs),
      bigMs: round(b.ms),
      bigBuffers: b.buffers,
      seqScan: +b.seqScan,
    };
    results.push(report({ system: 'tickwork', scenario: 'big-table', params: { query, runs }, metrics }));
    table.push({ query, ...metrics, rows, flag: flag ? `⚠ ${flag}` : 'flat', plan: b.plan });
  }
  console.log(`\nbig-table: hot queries, live set only vs ${runs} finished runs (median of ${SAMPLES})`);
  console.table(table);
  console.log(notFlat.length ? `NOT FLAT (${notFlat.length}):\n${notFlat.join('\n')}` : 'All stay flat.');
  return results;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '1000000' } } });
  const finishedRuns = Number(values.runs);
  if (!Number.isInteger(finishedRuns) || finishedRuns < 0) throw new Error('--runs must be a whole number');
  const t0 = performance.now();
  await bigTableCheck({ finishedRuns });
  console.log(`big-table: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
