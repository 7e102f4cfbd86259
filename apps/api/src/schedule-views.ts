import { setImmediate as nextTurn } from 'node:timers/promises';
import { toSchedule, type Schedule, type ScheduleRow } from '@tickwork/core';
import { badRequest } from './problem.js';

/** The largest page of GET /schedules?include=upcoming: each item costs a fire-time computation. */
export const UPCOMING_PAGE_MAX = 100;

/** Work between two turns of the event loop while a page is rendered. */
const SLICE_MS = 10;

/** Whether a list asks for `upcoming`; a 400 naming `limit` when its page would exceed UPCOMING_PAGE_MAX. */
export function wantsUpcoming(include: 'upcoming' | undefined, limit: number): boolean {
  if (include !== 'upcoming') return false;
  if (limit <= UPCOMING_PAGE_MAX) return true;
  const message = `must be at most ${UPCOMING_PAGE_MAX} with include=upcoming`;
  throw badRequest(`limit ${message}`, [{ field: 'limit', message }]);
}

/**
 * The schedules of a page, with `upcoming` when asked. Other requests get a turn every SLICE_MS: even
 * a page of uncached rare crons never holds up /healthz for long.
 */
export async function scheduleItems(rows: readonly ScheduleRow[], upcoming: boolean): Promise<Schedule[]> {
  const items: Schedule[] = [];
  let sliceStart = performance.now();
  for (const row of rows) {
    items.push(toSchedule(row, { upcoming }));
    if (performance.now() - sliceStart > SLICE_MS) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
  return items;
}
