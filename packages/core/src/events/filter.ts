import type { TickworkEvent } from './event.js';

/**
 * Which events a reader wants; every field optional, all given ones must match. `types` holds event
 * types (`run.succeeded`) or kinds (`run.*`, `workflow.*`); `runIds` any of several runs.
 */
export interface EventFilter {
  runIds?: readonly number[];
  workflowId?: number;
  task?: string;
  queue?: string;
  types?: readonly string[];
}

/** The kind of an event type, as a filter names it: `run.*` for `run.succeeded`. */
export const eventKind = (type: string): string => `${type.split('.', 1)[0] ?? ''}.*`;

/** The in-memory twin of the SQL in queries.ts (eventFilterSql): the live fan-out's test. */
export function eventMatches(event: TickworkEvent, filter: EventFilter): boolean {
  if (filter.runIds?.length && (event.runId === null || !filter.runIds.includes(event.runId))) return false;
  if (filter.workflowId !== undefined && event.workflowId !== filter.workflowId) return false;
  if (filter.task !== undefined && event.task !== filter.task) return false;
  if (filter.queue !== undefined && event.queue !== filter.queue) return false;
  if (
    filter.types?.length &&
    !filter.types.includes(event.type) &&
    !filter.types.includes(eventKind(event.type))
  )
    return false;
  return true;
}

/** SQL conditions (ANDed, over table alias-free columns) and their parameters, numbered from `first`. */
export function eventFilterSql(filter: EventFilter, first: number): { sql: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${first + params.length - 1}`;
  };
  if (filter.runIds?.length) conditions.push(`run_id = ANY(${param(filter.runIds)}::bigint[])`);
  if (filter.workflowId !== undefined) conditions.push(`workflow_id = ${param(filter.workflowId)}`);
  if (filter.task !== undefined) conditions.push(`task = ${param(filter.task)}`);
  if (filter.queue !== undefined) conditions.push(`queue = ${param(filter.queue)}`);
  if (filter.types?.length) {
    const types = param(filter.types);
    conditions.push(
      `(type = ANY(${types}::text[]) OR split_part(type, '.', 1) || '.*' = ANY(${types}::text[]))`,
    );
  }
  return { sql: conditions.map((c) => ` AND ${c}`).join(''), params };
}
