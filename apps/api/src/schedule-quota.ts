import {
  frequentTriggers,
  lockAndCountSchedules,
  type Config,
  type PoolClient,
  type Trigger,
} from '@tickwork/core';
import { HttpProblem } from './problem.js';

export type ScheduleQuota = Pick<Config, 'maxSchedules' | 'maxFrequentSchedules'>;

const full = (detail: string) => new HttpProblem(409, 'Conflict', detail);
const thereAre = (n: number, noun: string) => (n === 1 ? `there is 1 ${noun}` : `there are ${n} ${noun}s`);

/**
 * Refuses (409) a schedule that MAX_SCHEDULES or MAX_FREQUENT_SCHEDULES (0: no quota) has no room for.
 * A new schedule needs a slot, and one more if it is frequent; a schedule whose trigger changes
 * (`replacing` its old one) needs a frequent slot only if it becomes frequent. Paused schedules count:
 * resuming one must not exceed a quota. Call inside the transaction that then inserts or updates: the
 * quota lock it takes is held until that commits.
 */
export async function assertScheduleQuota(
  client: PoolClient,
  quota: ScheduleQuota,
  trigger: Trigger,
  replacing?: Trigger,
): Promise<void> {
  const adding = replacing === undefined;
  const { maxSchedules, maxFrequentSchedules } = quota;
  if (maxFrequentSchedules === 0 && (!adding || maxSchedules === 0)) return;
  const [frequent, wasFrequent = false] = await frequentTriggers(
    client,
    adding ? [trigger] : [trigger, replacing],
  );
  const addsFrequent = frequent === true && !wasFrequent;
  if (!adding && !addsFrequent) return;
  const counts = await lockAndCountSchedules(client);
  if (adding && maxSchedules > 0 && counts.total >= maxSchedules) {
    throw full(
      `${thereAre(counts.total, 'schedule')} and MAX_SCHEDULES allows ${maxSchedules} (paused ones and bots' scrape schedules count too): delete one first`,
    );
  }
  if (addsFrequent && maxFrequentSchedules > 0 && counts.frequent >= maxFrequentSchedules) {
    throw full(
      `${thereAre(counts.frequent, 'frequent schedule')} (firing under a minute apart) and MAX_FREQUENT_SCHEDULES allows ${maxFrequentSchedules} (paused ones count too); this one would fire under a minute apart: fire at most once a minute, or delete a frequent schedule first`,
    );
  }
}
