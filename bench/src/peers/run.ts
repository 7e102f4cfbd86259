import { parseArgs } from 'node:util';
import type { Result } from '../results.js';
import { bullmqDelayedLateness, bullmqRepeatLateness, bullmqThroughput, type BullBackend } from './bullmq.js';
import { pgbossDelayedLateness, pgbossScheduleLateness, pgbossThroughput } from './pgboss.js';
import { rabbitmqThroughput } from './rabbitmq.js';

/**
 * Runs one peer's scenarios alone, each result printed as it is produced:
 *   node --import tsx bench/src/peers/run.ts rabbitmq|bullmq|pgboss [--quick] [--backend redis|postgres]
 * `--backend` picks BullMQ's store (Redis by default). `--quick` shrinks every scenario to seconds.
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'redis' },
  },
});
const [system] = positionals;
const quick = values.quick;
const backend = values.backend as BullBackend;
if (backend !== 'redis' && backend !== 'postgres')
  throw new Error(`--backend: redis or postgres, not ${String(backend)}`);

/** Throughput sizes: many jobs at concurrency 50, fewer at concurrency 1 (it is far slower). */
const throughputRuns = quick
  ? [
      { jobs: 1000, concurrency: 50 },
      { jobs: 200, concurrency: 1 },
    ]
  : [
      { jobs: 20_000, concurrency: 50 },
      { jobs: 2000, concurrency: 1 },
    ];
const delayed = quick ? { jobs: 200, spreadMs: 3000 } : { jobs: 1000, spreadMs: 10_000 };

async function rabbitmq(): Promise<Result[]> {
  const results = [];
  for (const run of throughputRuns)
    results.push(await rabbitmqThroughput({ messages: run.jobs, concurrency: run.concurrency }));
  return results;
}

async function bullmq(): Promise<Result[]> {
  const results = [];
  for (const run of throughputRuns) results.push(await bullmqThroughput({ ...run, workers: 1, backend }));
  results.push(await bullmqDelayedLateness({ ...delayed, backend }));
  const seconds = quick ? 5 : 15;
  for (const schedulers of quick ? [1, 100] : [1, 1000, 10_000])
    results.push(await bullmqRepeatLateness({ schedulers, seconds, backend }));
  return results;
}

async function pgboss(): Promise<Result[]> {
  const results = [];
  for (const run of throughputRuns) results.push(await pgbossThroughput({ ...run, workers: 1 }));
  results.push(await pgbossDelayedLateness(delayed));
  // Minute-granular cron: about a minute per fire, so only in a full run.
  if (!quick) results.push(await pgbossScheduleLateness({ fires: 1 }));
  return results;
}

const systems: Record<string, () => Promise<Result[]>> = { rabbitmq, bullmq, pgboss };
const chosen = system === undefined ? undefined : systems[system];
if (!chosen) {
  console.error('usage: run.ts rabbitmq|bullmq|pgboss [--quick] [--backend redis|postgres]');
  process.exit(2);
}
await chosen();
