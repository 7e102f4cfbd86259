import type { Result, System } from './results.js';

/**
 * The comparison `npm run bench` prints last: Tickwork beside BullMQ, pg-boss and raw RabbitMQ on the
 * same workloads, with ratios, and the targets as met or not. Everything is looked up in the
 * Result list by system, scenario and params, so a scenario left out (or failed) only empties its cells.
 * A cell is a number, null (not run) or 'failed' (its scenario threw or its checks failed).
 */
export type Kind = 'throughput' | 'lateness';
export interface Failure {
  scenario: string;
  system: System;
  kind: Kind;
  error: string;
}
type Cell = number | null | 'failed';
/** A table row: cells, and labels such as a system's name. */
type Row = Record<string, number | string | null>;

const KIND: Record<string, Kind> = {
  throughput: 'throughput',
  'delayed-lateness': 'lateness',
  'schedule-lateness': 'lateness',
};

class Lookup {
  constructor(
    private readonly results: Result[],
    private readonly failures: Failure[],
  ) {}

  all(system: System, scenario: string): Result[] {
    return this.results.filter((r) => r.system === system && r.scenario === scenario);
  }

  /** The Result of `system` and `scenario` whose params include every one given. */
  find(system: System, scenario: string, params: Record<string, number | string>): Result | undefined {
    return this.all(system, scenario).find((r) =>
      Object.entries(params).every(([k, v]) => r.params[k] === v),
    );
  }

  /** A metric of that Result; 'failed' if it failed its checks, or if its scenario failed instead. */
  metric(system: System, scenario: string, params: Record<string, number | string>, name: string): Cell {
    const result = this.find(system, scenario, params);
    if (result) return result.failed ? 'failed' : (result.metrics[name] ?? null);
    const failed = this.failures.some((f) => f.system === system && f.kind === KIND[scenario]);
    return failed ? 'failed' : null;
  }
}

const round = (n: number, digits: number) => Number(n.toFixed(digits));
/** a ÷ b to two decimals, when both were measured (any text in a cell here means 'failed'). */
function ratio(a: Row[string] | undefined, b: Row[string] | undefined): Cell {
  if (typeof a === 'string' || typeof b === 'string') return 'failed';
  return a == null || b == null || b === 0 ? null : round(a / b, 2);
}
const measured = (row: Row, keys: string[]) => keys.some((k) => row[k] !== null);

/** Tickwork's throughput shapes beside the peers' runs of the same workers × concurrency. */
const SHAPES = [
  { path: 'client', workers: 1, concurrency: 50 },
  { path: 'api', workers: 1, concurrency: 50 },
  { path: 'client', workers: 2, concurrency: 50 },
  { path: 'api', workers: 2, concurrency: 50 },
  { path: 'client', workers: 1, concurrency: 1 },
  { path: 'api', workers: 1, concurrency: 1 },
];

function throughput(l: Lookup): Row[] {
  return SHAPES.map((s) => {
    const tickwork = l.metric('tickwork', 'throughput', s, 'perSec');
    const peer = (system: System) =>
      l.metric(system, 'throughput', { workers: s.workers, concurrency: s.concurrency }, 'perSec');
    // The raw baseline has one consumer: it stands beside the one-worker shapes only.
    const raw =
      s.workers === 1 ? l.metric('rabbitmq', 'throughput', { concurrency: s.concurrency }, 'perSec') : null;
    const [bullmq, pgboss] = [peer('bullmq'), peer('pg-boss')];
    return {
      shape: `${s.path} ${s.workers}×${s.concurrency}`,
      tickworkPerSec: tickwork,
      bullmqPerSec: bullmq,
      tickworkOverBullmq: ratio(tickwork, bullmq),
      pgbossPerSec: pgboss,
      tickworkOverPgboss: ratio(tickwork, pgboss),
      rawRabbitmqPerSec: raw,
      tickworkOverRaw: ratio(tickwork, raw),
    };
  }).filter((row) => measured(row, ['tickworkPerSec', 'bullmqPerSec', 'pgbossPerSec']));
}

const LATE = ['p50Ms', 'p99Ms', 'maxMs'];
const lateCells = (l: Lookup, system: System, scenario: string, params: Record<string, number>) =>
  Object.fromEntries(LATE.map((m) => [m, l.metric(system, scenario, params, m)]));
/** Peer ÷ Tickwork per percentile: above 1, Tickwork was less late. */
const lateRatios = (row: Row, reference: Row | undefined): Row => ({
  p50PeerOverTickwork: ratio(row.p50Ms, reference?.p50Ms),
  p99PeerOverTickwork: ratio(row.p99Ms, reference?.p99Ms),
});

/** Tickwork's delayed tasks (beside each schedule load) and the peers'; ratios against the lightest load. */
function delayed(l: Lookup): Row[] {
  const loads = [...new Set(l.all('tickwork', 'delayed-lateness').map((r) => Number(r.params.schedules)))];
  const tickwork = loads
    .sort((a, b) => a - b)
    .map((schedules) => ({
      system: 'tickwork',
      alongsideSchedules: schedules,
      tasks: l.metric('tickwork', 'delayed-lateness', { schedules }, 'count'),
      ...lateCells(l, 'tickwork', 'delayed-lateness', { schedules }),
    }));
  const peers = (['bullmq', 'pg-boss'] as const).map((system) => ({
    system,
    alongsideSchedules: null,
    tasks: l.metric(system, 'delayed-lateness', {}, 'count'),
    ...lateCells(l, system, 'delayed-lateness', {}),
  }));
  const reference = tickwork[0];
  return [...tickwork, ...peers.map((row) => ({ ...row, ...lateRatios(row, reference) }))].filter((row) =>
    measured(row, ['tasks', ...LATE]),
  );
}

/** Fires in the window: per second, and how many of the timetable's. */
function fires(l: Lookup, system: System, params: Record<string, number>): Row {
  const r = l.find(system, 'schedule-lateness', params);
  if (!r || r.failed) {
    const missing = l.metric(system, 'schedule-lateness', params, 'count');
    return { firesPerSec: missing, fires: missing };
  }
  const count = r.metrics.count ?? 0;
  return {
    firesPerSec: round(count / Number(r.params.seconds), 1),
    fires: `${count} of ${r.metrics.expectedFires}`,
  };
}

/** Tickwork's schedules (~100 fires/s in all) against BullMQ's job schedulers (each fires every second). */
function schedules(l: Lookup): Row[] {
  const counts = new Set([
    ...l.all('tickwork', 'schedule-lateness').map((r) => Number(r.params.schedules)),
    ...l.all('bullmq', 'schedule-lateness').map((r) => Number(r.params.schedulers)),
  ]);
  const rows: Row[] = [];
  for (const n of [...counts].sort((a, b) => a - b)) {
    const tickwork: Row = {
      schedules: n,
      system: 'tickwork',
      ...fires(l, 'tickwork', { schedules: n }),
      ...lateCells(l, 'tickwork', 'schedule-lateness', { schedules: n }),
    };
    const bullmq: Row = {
      schedules: n,
      system: 'bullmq',
      ...fires(l, 'bullmq', { schedulers: n }),
      ...lateCells(l, 'bullmq', 'schedule-lateness', { schedulers: n }),
    };
    rows.push(tickwork, { ...bullmq, ...lateRatios(bullmq, tickwork) });
    if (n !== 1) continue;
    // pg-boss's cron is minute-granular: one schedule, its fires a minute apart.
    const pgboss: Row = {
      schedules: 1,
      system: 'pg-boss (cron, per minute)',
      firesPerSec: null,
      fires: l.metric('pg-boss', 'schedule-lateness', { schedules: 1 }, 'count'),
      ...lateCells(l, 'pg-boss', 'schedule-lateness', { schedules: 1 }),
    };
    rows.push({ ...pgboss, ...lateRatios(pgboss, tickwork) });
  }
  return rows.filter((row) => measured(row, LATE));
}

interface Target {
  target: string;
  measured: Cell;
  detail: string;
  met: 'yes' | 'no' | 'n/a';
}
/** Met when `value` is at least (`atLeast`) or at most `limit`; a failed measurement is not met. */
const target = (name: string, value: Cell, atLeast: boolean, limit: number, detail: string): Target => ({
  target: name,
  measured: value,
  detail,
  met:
    value === null ? 'n/a' : value !== 'failed' && (atLeast ? value >= limit : value <= limit) ? 'yes' : 'no',
});

/** The targets. Throughput ratios pair like with like: one worker at concurrency 50. */
function targets(l: Lookup): Target[] {
  const client150 = l.metric('tickwork', 'throughput', SHAPES[0]!, 'perSec');
  const tickwork = l.all('tickwork', 'throughput').filter((r) => !r.failed);
  const best50 = tickwork
    .filter((r) => r.params.concurrency === 50)
    .sort((a, b) => (b.metrics.perSec ?? 0) - (a.metrics.perSec ?? 0))[0];
  const rss = tickwork.flatMap((r) => r.metrics.workerPeakRssMiB ?? []);
  const bullmq = l.metric('bullmq', 'throughput', { workers: 1, concurrency: 50 }, 'perSec');
  const raw = l.metric('rabbitmq', 'throughput', { concurrency: 50 }, 'perSec');
  const late = (kind: string, schedules: number, limitMs: number) =>
    target(
      `${kind} lateness p99 ≤ ${limitMs} ms, ${schedules.toLocaleString('en')} schedules`,
      l.metric('tickwork', `${kind}-lateness`, { schedules }, 'p99Ms'),
      false,
      limitMs,
      'ms, processor start − due',
    );
  const best = best50 ? `tasks/s, ${best50.params.path} ${best50.params.workers}×50` : 'tasks/s';
  return [
    target('throughput ≥ 1.5× BullMQ', ratio(client150, bullmq), true, 1.5, 'client 1×50 ÷ BullMQ 1×50'),
    target('throughput ≥ 10,000/s at c=50', best50?.metrics.perSec ?? null, true, 10_000, best),
    late('delayed', 1000, 20),
    late('schedule', 1000, 20),
    late('delayed', 10_000, 100),
    late('schedule', 10_000, 100),
    target('worker RSS ≤ 100 MiB', rss.length ? Math.max(...rss) : null, false, 100, 'MiB, peak under load'),
    target('throughput ≥ 60% of raw RabbitMQ', ratio(client150, raw), true, 0.6, 'client 1×50 ÷ raw c=50'),
  ];
}

/** Cells for people: a dash for what was not run. */
const display = (rows: Array<Row | Target>) =>
  rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v ?? '—'])));

export function compare(results: Result[], failures: Failure[], o: { quick: boolean }): void {
  const l = new Lookup(results, failures);
  const comparison = {
    quick: o.quick,
    throughput: throughput(l),
    delayedLateness: delayed(l),
    scheduleLateness: schedules(l),
    targets: targets(l),
    failures,
  };
  console.log(JSON.stringify({ comparison }));
  const section = (title: string, rows: Array<Row | Target>) => {
    console.log(`== ${title}`);
    if (rows.length > 0) console.table(display(rows));
    else console.log('(nothing measured)');
  };
  console.log();
  section(
    'Throughput, tasks/s: higher is better; Over = Tickwork ÷ peer (> 1: Tickwork faster)',
    comparison.throughput,
  );
  const lower = 'lower is better; PeerOverTickwork = peer ÷ Tickwork (> 1: Tickwork less late)';
  section(
    `Delayed-task lateness, ms, start − due: ${lower}, against Tickwork's first row`,
    comparison.delayedLateness,
  );
  section(
    `Schedule lateness, ms, start − intended: ${lower}, same count; Tickwork's N schedules fire ~100/s in all, BullMQ's N schedulers each fire every second (N/s)`,
    comparison.scheduleLateness,
  );
  section(`Targets${o.quick ? ' (--quick: smoke sizes, not a measurement)' : ''}`, comparison.targets);
  if (failures.length > 0) {
    console.log('== Failed scenarios');
    console.table(
      failures.map((f) => ({ scenario: f.scenario, system: f.system, error: f.error.slice(0, 120) })),
    );
  }
}
