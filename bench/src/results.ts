/**
 * One measurement, as every scenario reports it: a JSON line for scripts, then a table for people.
 * `main.ts` collects them and prints the comparison of Tickwork with its peers (compare.ts).
 */
export type System = 'tickwork' | 'rabbitmq' | 'bullmq' | 'pg-boss';

export interface Result {
  system: System;
  /** e.g. 'throughput', 'delayed-lateness', 'schedule-lateness'. */
  scenario: string;
  /** What was varied: concurrency, workers, schedules, path ('api' | 'client'), … */
  params: Record<string, number | string>;
  /** What was measured, units in the name: perSec, p50Ms, p99Ms, maxMs, peakRssMiB, … */
  metrics: Record<string, number>;
  /**
   * Set when the scenario's own checks failed (work lost, duplicated or missed): the numbers were
   * still measured, but the run is a failure and `npm run bench` exits non-zero.
   */
  failed?: string;
}

export function report(result: Result): Result {
  console.log(JSON.stringify(result));
  const label = Object.entries(result.params)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(`${result.system} · ${result.scenario} · ${label}`);
  console.table(result.metrics);
  if (result.failed) console.error(`${result.system} ${result.scenario} FAILED: ${result.failed}`);
  return result;
}
