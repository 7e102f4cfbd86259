import type { Pool } from '@tickwork/core';
import { waitFor } from './wait.js';

export interface FiredSecond {
  /** Epoch seconds of the due time. */
  second: number;
  runs: number;
}

/** The due times a schedule fired (sorted), and how many runs each got. */
export async function firedSeconds(pool: Pool, scheduleId: number): Promise<FiredSecond[]> {
  const { rows } = await pool.query<FiredSecond>(
    `SELECT extract(epoch FROM scheduled_for)::float8 AS second, count(*)::int AS runs
     FROM runs WHERE schedule_id = $1 GROUP BY scheduled_for ORDER BY scheduled_for`,
    [scheduleId],
  );
  return rows;
}

/** For a per-second schedule: seconds with more than one run, and seconds missing between fires. */
export function doublesAndGaps(fired: FiredSecond[]): { doubled: number[]; missing: number[] } {
  const doubled = fired.filter((f) => f.runs !== 1).map((f) => f.second);
  const missing: number[] = [];
  fired.slice(1).forEach((f, i) => {
    for (let s = fired[i]!.second + 1; s < f.second; s++) missing.push(s);
  });
  return { doubled, missing };
}

/** Waits until the schedule has fired a due time later than `epochMs`. */
export function waitForFireAfter(pool: Pool, scheduleId: number, epochMs: number, timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const last = (await firedSeconds(pool, scheduleId)).at(-1);
      return last !== undefined && last.second * 1000 > epochMs ? last : undefined;
    },
    {
      timeoutMs,
      intervalMs: 200,
      what: `schedule ${scheduleId} to fire after ${new Date(epochMs).toISOString()}`,
    },
  );
}
