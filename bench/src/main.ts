import { parseArgs } from 'node:util';
import type { Result } from './results.js';
import { tickworkThroughput, type ThroughputOptions } from './tickwork/throughput.js';

/**
 * `npm run bench`: every scenario in one invocation, then the comparison. `--quick` shrinks each to a
 * smoke run (CI); `--only a,b` picks scenarios by name. See docs/benchmarks.md.
 */
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    /** WORKER_PREFETCH as a multiple of WORKER_CONCURRENCY. */
    'prefetch-factor': { type: 'string', default: '1' },
    only: { type: 'string' },
    tasks: { type: 'string' },
    port: { type: 'string', default: '3917' },
  },
});
const quick = values.quick;
const port = Number(values.port);
const tasks = Number(values.tasks ?? (quick ? 500 : 20_000));
const fewTasks = Math.max(100, Math.round(tasks / 10));

type Scenario = () => Promise<Result | Result[]>;
const throughput =
  (o: Partial<Omit<ThroughputOptions, 'prefetch'>>): Scenario =>
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
  };

const scenarios: Record<string, Scenario> = {
  'tickwork-api-1x50': throughput({}),
  'tickwork-client-1x50': throughput({ path: 'client', inflight: 4 }),
  'tickwork-client-2x50': throughput({ path: 'client', inflight: 4, workers: 2 }),
  'tickwork-api-2x50': throughput({ workers: 2 }),
  'tickwork-api-1x1': throughput({ tasks: fewTasks, concurrency: 1 }),
  'tickwork-client-1x1': throughput({ path: 'client', tasks: fewTasks, concurrency: 1, inflight: 4 }),
};

const only = values.only?.split(',');
const unknown = only?.filter((name) => !(name in scenarios));
if (unknown?.length)
  throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}`);

const results: Result[] = [];
for (const [name, run] of Object.entries(scenarios)) {
  if (only && !only.includes(name)) continue;
  console.error(`bench: ${name}`);
  results.push(...[await run()].flat());
}
