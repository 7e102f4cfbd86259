import { once } from 'node:events';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { compare, type Failure, type Kind } from './compare.js';
import { bullmqDelayedLateness, bullmqRepeatLateness, bullmqThroughput } from './peers/bullmq.js';
import { pgbossDelayedLateness, pgbossScheduleLateness, pgbossThroughput } from './peers/pgboss.js';
import { redisUrl, within } from './peers/common.js';
import { rabbitmqThroughput } from './peers/rabbitmq.js';
import type { Result, System } from './results.js';
import { TimedOut } from './support.js';
import { tickworkLateness } from './tickwork/lateness.js';
import { tickworkThroughput, type ThroughputOptions } from './tickwork/throughput.js';

/**
 * `npm run bench`: every scenario in one invocation (the raw RabbitMQ baseline, Tickwork, then its
 * peers), then the comparison (compare.ts). `--quick` shrinks each to a smoke run; `--skip-peers`
 * leaves out BullMQ and pg-boss (CI); `--only a,b` picks scenarios by name. See docs/benchmarks.md.
 */
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'skip-peers': { type: 'boolean', default: false },
    /** WORKER_PREFETCH as a multiple of WORKER_CONCURRENCY. */
    'prefetch-factor': { type: 'string', default: '4' },
    only: { type: 'string' },
    tasks: { type: 'string' },
    port: { type: 'string', default: '3917' },
  },
});
const quick = values.quick;
const port = Number(values.port);
const tasks = Number(values.tasks ?? (quick ? 500 : 20_000));
const fewTasks = Math.max(100, Math.round(tasks / 10));
/** The lateness window, and the schedule counts measured (quick: small, so CI stays fast). */
const window = quick ? { seconds: 3, warmup: 2 } : { seconds: 15, warmup: 5 };
const delayedPerSecond = 20;
/** Stands in for 1,000 schedules in --quick: 200 (period 2 s) still fire ~100/s, each within the window. */
const fewSchedules = quick ? 200 : 1000;
/** Peers get the Tickwork sizes: the same delayed tasks over the same span, the same throughput runs. */
const delayed = { jobs: delayedPerSecond * window.seconds, spreadMs: window.seconds * 1000 };
const throughputRuns = [
  { jobs: tasks, concurrency: 50, workers: 1 },
  { jobs: tasks, concurrency: 50, workers: 2 },
  { jobs: fewTasks, concurrency: 1, workers: 1 },
];

/** A measurement producing one or more Results; each step of a scenario fails on its own. */
type Step = () => Promise<Result | Result[]>;
interface Scenario {
  system: System;
  kind: Kind;
  steps: Step[];
  /** Left out of --quick runs unless named by --only. */
  fullOnly?: boolean;
  /** Must pass before any step runs: a missing service fails the scenario at once. */
  preflight?: () => Promise<void>;
}

/** BullMQ's Redis client retries a refused connection forever, so see first that Redis listens. */
async function redisListens(): Promise<void> {
  const { hostname, port } = new URL(redisUrl);
  const socket = net.connect(Number(port || 6379), hostname);
  const where = `Redis at ${hostname}:${port || 6379}`;
  try {
    await within(once(socket, 'connect'), 5000, where);
  } catch (error) {
    throw new Error(`${where}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    socket.destroy();
  }
}
/** A peer step that hangs anyway (say Redis went away mid-run) fails after this; Tickwork's have deadlines. */
const PEER_STEP_MS = 5 * 60_000;

const throughput = (o: Partial<Omit<ThroughputOptions, 'prefetch'>>): Scenario => ({
  system: 'tickwork',
  kind: 'throughput',
  steps: [
    () => {
      const concurrency = o.concurrency ?? 50;
      const prefetch = concurrency * Number(values['prefetch-factor']);
      return tickworkThroughput({
        path: 'api',
        tasks,
        workers: 1,
        inflight: 50,
        batch: 500,
        port,
        ...o,
        concurrency,
        prefetch,
      });
    },
  ],
});

const lateness = (schedules: number, fullOnly = false): Scenario => ({
  system: 'tickwork',
  kind: 'lateness',
  fullOnly,
  steps: [
    () =>
      tickworkLateness({
        schedules,
        ...window,
        schedulers: 1,
        workers: 1,
        spread: 'ms',
        delayedPerSecond,
        port,
      }),
  ],
});

const scenarios: Record<string, Scenario> = {
  'rabbitmq-raw': {
    system: 'rabbitmq',
    kind: 'throughput',
    steps: [
      () => rabbitmqThroughput({ messages: tasks, concurrency: 50 }),
      () => rabbitmqThroughput({ messages: fewTasks, concurrency: 1 }),
    ],
  },
  'tickwork-api-1x50': throughput({}),
  'tickwork-client-1x50': throughput({ path: 'client', inflight: 4 }),
  'tickwork-client-2x50': throughput({ path: 'client', inflight: 4, workers: 2 }),
  'tickwork-api-2x50': throughput({ workers: 2 }),
  'tickwork-api-1x1': throughput({ tasks: fewTasks, concurrency: 1 }),
  'tickwork-client-1x1': throughput({ path: 'client', tasks: fewTasks, concurrency: 1, inflight: 4 }),
  'tickwork-lateness-1': lateness(1),
  'tickwork-lateness-1000': lateness(fewSchedules),
  'tickwork-lateness-10000': lateness(10_000, true),
  'bullmq-throughput': {
    system: 'bullmq',
    kind: 'throughput',
    preflight: redisListens,
    steps: throughputRuns.map((run) => () => bullmqThroughput(run)),
  },
  'bullmq-lateness': {
    system: 'bullmq',
    kind: 'lateness',
    preflight: redisListens,
    steps: [
      () => bullmqDelayedLateness(delayed),
      // Every scheduler fires each second (BullMQ's finest cron): N fires/s, not Tickwork's ~100/s.
      ...(quick ? [1, fewSchedules] : [1, fewSchedules, 10_000]).map(
        (schedulers) => () => bullmqRepeatLateness({ schedulers, seconds: window.seconds }),
      ),
    ],
  },
  'pgboss-throughput': {
    system: 'pg-boss',
    kind: 'throughput',
    steps: throughputRuns.map((run) => () => pgbossThroughput(run)),
  },
  'pgboss-lateness': {
    system: 'pg-boss',
    kind: 'lateness',
    // pg-boss's cron is minute-granular: a fire takes about a minute to wait for, so only in a full run.
    steps: [
      () => pgbossDelayedLateness(delayed),
      ...(quick ? [] : [() => pgbossScheduleLateness({ fires: 1 })]),
    ],
  },
};

const only = values.only?.split(',');
const unknown = only?.filter((name) => !(name in scenarios));
if (unknown?.length)
  throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}`);
const chosen = (name: string, s: Scenario) =>
  only
    ? only.includes(name)
    : !(quick && s.fullOnly) && !(values['skip-peers'] && (s.system === 'bullmq' || s.system === 'pg-boss'));

const started = performance.now();
const results: Result[] = [];
const failures: Failure[] = [];
/** Set when a peer step was given up on: what it left running would keep the process alive. */
let abandoned = false;

/** Runs one step, keeping its Results; a failure is reported and recorded, and the run carries on. */
async function attempt(name: string, scenario: Scenario, step: Step): Promise<boolean> {
  try {
    const run = step();
    results.push(...[await (scenario.system === 'tickwork' ? run : within(run, PEER_STEP_MS, name))].flat());
    return true;
  } catch (error) {
    console.error(`bench: ${name} FAILED:`, error);
    const message = error instanceof Error ? error.message : String(error);
    failures.push({ scenario: name, system: scenario.system, kind: scenario.kind, error: message });
    abandoned ||= error instanceof TimedOut && scenario.system !== 'tickwork';
    return false;
  }
}

for (const [name, scenario] of Object.entries(scenarios)) {
  if (!chosen(name, scenario)) continue;
  console.error(`bench: ${name}`);
  const t0 = performance.now();
  const { preflight } = scenario;
  if (!preflight || (await attempt(name, scenario, () => preflight().then(() => [])))) {
    for (const step of scenario.steps) await attempt(name, scenario, step);
  }
  console.error(`bench: ${name} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
compare(results, failures, { quick });
console.error(`bench: done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
// Tickwork's own failures (an error, or a check such as lost or duplicate runs) fail the run; a peer's do not.
const tickworkFailed =
  failures.some((f) => f.system === 'tickwork') || results.some((r) => r.system === 'tickwork' && r.failed);
process.exitCode = tickworkFailed ? 1 : 0;
// stdout and stderr are synchronous for files and pipes on Linux, so nothing printed is lost.
if (abandoned) process.exit();
