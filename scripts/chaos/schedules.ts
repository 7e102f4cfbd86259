import type pg from 'pg';
import { sleep, until } from '../../bench/src/support.js';

/**
 * Per-second cron schedules that must fire every second exactly once through the faults: no coalescing
 * and a high maxInstances, so the only way to skip a second is to be later than the misfire grace,
 * which the faults (a few seconds each) never are.
 */
export const MISFIRE_GRACE_SECONDS = 60;

const SCHEDULES = [
  { name: 'chaos record', task: 'diag.record', args: {} },
  { name: 'chaos echo', task: 'diag.echo', args: { tick: true } },
  // Longer than a second: several of its runs are in flight at once.
  { name: 'chaos record slow', task: 'diag.record', args: { sleepMs: 1500 } },
];

export interface SoakSchedule {
  id: number;
  name: string;
  /** The first due time, as the API answered at creation. */
  firstDue: Date;
}

async function api(baseUrl: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as unknown;
}

export async function createSchedules(baseUrl: string): Promise<SoakSchedule[]> {
  const created: SoakSchedule[] = [];
  for (const s of SCHEDULES) {
    const answer = (await api(baseUrl, 'POST', '/schedules', {
      ...s,
      trigger: { type: 'cron', expression: '* * * * * *', timezone: 'UTC' },
      coalesce: false,
      misfireGraceSeconds: MISFIRE_GRACE_SECONDS,
      maxInstances: 1000,
      maxRetries: 10,
    })) as { id: number; nextRunAt: string };
    created.push({ id: answer.id, name: s.name, firstDue: new Date(answer.nextRunAt) });
  }
  return created;
}

/**
 * Waits (up to 30 s) until every schedule has fired a due time within the last two seconds, so a
 * scheduler still catching up is not mistaken for a miss, then pauses them all. Returns the last due
 * time that must have fired: the check counts every second from each schedule's first due time to it.
 */
export async function settleAndPause(baseUrl: string, db: pg.Pool, schedules: SoakSchedule[]): Promise<Date> {
  const ids = schedules.map((s) => s.id);
  const caughtUp = async () => {
    const { rows } = await db.query<{ behind: number }>(
      `SELECT count(*)::int AS behind FROM schedules s
        WHERE s.id = ANY($1)
          AND coalesce((SELECT max(scheduled_for) FROM runs r WHERE r.schedule_id = s.id), '-infinity')
              < now() - interval '2 seconds'`,
      [ids],
    );
    return rows[0]?.behind === 0;
  };
  await until(caughtUp, 30_000, 'the schedules to catch up').catch(() => undefined);
  const { rows } = await db.query<{ until: Date }>(
    `SELECT date_trunc('second', now()) - interval '2 seconds' AS until`,
  );
  for (const id of ids) await retrying(() => api(baseUrl, 'POST', `/schedules/${id}/pause`));
  const last = rows[0]?.until;
  if (!last) throw new Error('no database time');
  return last;
}

/** The API may still be reconnecting right after the last fault: a few tries, a second apart. */
async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= 10) throw error;
      await sleep(1000);
    }
  }
}
