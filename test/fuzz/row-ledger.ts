import type { Pool } from '@tickwork/core';

export const TABLES = ['runs', 'schedules', 'bot_configs'] as const;
export type Table = (typeof TABLES)[number];

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const idsOf = (value: unknown, key: string): number[] =>
  (Array.isArray(value) ? value : [value]).flatMap((item) =>
    isRecord(item) && typeof item[key] === 'number' ? [item[key]] : [],
  );

/** The rows a 2xx answer of each operation says it created: table, and where the ids are in the answer. */
const CREATED: Record<string, (answer: Record<string, unknown>) => Array<[Table, number[]]>> = {
  'POST /api/v1/tasks': (a) => [['runs', idsOf(a, 'id')]],
  'POST /api/v1/tasks/batch': (a) => [['runs', idsOf(a.runs, 'id')]],
  'POST /api/v1/schedules': (a) => [['schedules', idsOf(a, 'id')]],
  'POST /api/v1/schedules/{id}/trigger': (a) => [['runs', idsOf(a, 'id')]],
  'POST /api/v1/runs/{id}/retry': (a) => [['runs', idsOf(a, 'id')]],
  'POST /api/v1/bot-configs': (a) => [
    ['bot_configs', idsOf(a, 'id')],
    ['schedules', idsOf(a, 'scheduleId')],
  ],
  'PATCH /api/v1/bot-configs/{id}': (a) => [['schedules', idsOf(a, 'scheduleId')]],
  'POST /api/v1/scraping/start': (a) => [['runs', idsOf(a, 'runId')]],
  'POST /api/v1/bot-configs/batch-scrape': (a) => [['runs', idsOf(a.runs, 'runId')]],
  // A workflow's runs are the `runId`s of its tree's task nodes.
  'POST /api/v1/workflows': (a) => [['runs', treeRunIds(a.tree)]],
};

/** Every `runId` anywhere in a workflow's tree. */
function treeRunIds(node: unknown): number[] {
  if (Array.isArray(node)) return node.flatMap(treeRunIds);
  if (!isRecord(node)) return [];
  const own = typeof node.runId === 'number' ? [node.runId] : [];
  return [...own, ...Object.values(node).flatMap((v) => (typeof v === 'object' ? treeRunIds(v) : []))];
}

/**
 * Every row id some 2xx answer vouched for. At the end, a row nobody vouched for was stored by a request
 * that was refused, failed or hung; a vouched-for run that is missing was lost.
 */
export class RowLedger {
  readonly acknowledged: Record<Table, Set<number>> = {
    runs: new Set(),
    schedules: new Set(),
    bot_configs: new Set(),
  };

  /** Rows that were there before the run (the migrations' own, the fixtures). */
  vouchFor(rows: readonly StoredRow[]): void {
    for (const row of rows) this.acknowledged[row.table].add(row.id);
  }

  /** Records the rows a 2xx answer to `operation` (as sent: method and path template) created. */
  acknowledge(operation: string, answer: unknown): void {
    const created = CREATED[operation];
    if (!created || !isRecord(answer)) return;
    for (const [table, ids] of created(answer)) for (const id of ids) this.acknowledged[table].add(id);
  }
}

export interface StoredRow {
  table: Table;
  id: number;
  /** The first marker found in the row's args or name, if any: the request that sent it. */
  marker: string | null;
  preview: string;
}

/** How many rows each table holds. */
export async function countRows(pool: Pool): Promise<Record<Table, number>> {
  const { rows } = await pool.query<{ runs: number; schedules: number; bot_configs: number }>(
    `SELECT (SELECT count(*) FROM runs)::int AS runs, (SELECT count(*) FROM schedules)::int AS schedules,
            (SELECT count(*) FROM bot_configs)::int AS bot_configs`,
  );
  const [counts] = rows;
  if (!counts) throw new Error('no counts');
  return counts;
}

/** Every row of the three tables, with the marker it carries (markers are `fz-` and 12 hex digits). */
export async function storedRows(pool: Pool): Promise<StoredRow[]> {
  const { rows } = await pool.query<{ table: Table; id: string; marker: string | null; preview: string }>(
    `SELECT 'runs' AS table, id, substring(args::text from 'fz-[0-9a-f]{12}') AS marker,
            task || ' ' || left(args::text, 120) AS preview FROM runs
     UNION ALL
     SELECT 'schedules', id, substring(name || args::text from 'fz-[0-9a-f]{12}'), left(name, 60) || ' ' || task FROM schedules
     UNION ALL
     SELECT 'bot_configs', id, substring(name from 'fz-[0-9a-f]{12}'), left(name, 60) FROM bot_configs`,
  );
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}

/** Runs per neighbour marker (`args.tickworkNeighbour`). */
export async function neighbourRunCounts(pool: Pool): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ marker: string; count: number }>(
    `SELECT args->>'tickworkNeighbour' AS marker, count(*)::int AS count FROM runs
     WHERE jsonb_typeof(args) = 'object' AND args ? 'tickworkNeighbour' GROUP BY 1`,
  );
  return new Map(rows.map((r) => [r.marker, r.count]));
}
