import { setImmediate as nextTurn } from 'node:timers/promises';
import { toSchedule, type Schedule, type ScheduleRow } from '@tickwork/core';
import type { ScheduleOwnerKind } from './extension.js';
import { badRequest } from './problem.js';
import { splitOwner } from './schedule-rules.js';
import type { LegacyOwnerFields } from './schemas/schedules.js';

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

/** A schedule as the API shows it: the engine's view and the legacy owner fields (botConfigId). */
export type ScheduleJson = Schedule & LegacyOwnerFields;
export type ScheduleView = (row: ScheduleRow, options?: { upcoming?: boolean }) => ScheduleJson;

const NO_LEGACY_OWNER: LegacyOwnerFields = { botConfigId: null };

/** How the API shows schedules, with the legacy fields of owners the extensions' kinds fill. */
export function scheduleView(kinds: readonly ScheduleOwnerKind[]): ScheduleView {
  return (row, options) => {
    const schedule = toSchedule(row, options);
    if (row.owner === null) return { ...schedule, ...NO_LEGACY_OWNER };
    const { kind, key } = splitOwner(row.owner);
    const legacy = kinds.find((k) => k.kind === kind)?.legacyFields?.(key);
    return { ...schedule, ...NO_LEGACY_OWNER, ...legacy };
  };
}

/**
 * The schedules of a page, with `upcoming` when asked. Other requests get a turn every SLICE_MS: even
 * a page of uncached rare crons never holds up /healthz for long.
 */
export async function scheduleItems(
  rows: readonly ScheduleRow[],
  upcoming: boolean,
  view: ScheduleView,
): Promise<ScheduleJson[]> {
  const items: ScheduleJson[] = [];
  let sliceStart = performance.now();
  for (const row of rows) {
    items.push(view(row, { upcoming }));
    if (performance.now() - sliceStart > SLICE_MS) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
  return items;
}
