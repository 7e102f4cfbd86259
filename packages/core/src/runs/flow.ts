/**
 * The flow-control settings a new run takes (migration 0011), and its result TTL (0014): its request's
 * own where given, else its task's from the catalogue. Shared by every statement that creates runs, so
 * none bypasses them.
 *
 * `input` is the alias of the statement's input rows, which carry `args` (JSON text), and, for
 * requests that may set their own, `priority`, `concurrency_key`, `concurrency_limit` and
 * `result_ttl_seconds`; `t` is the catalogue row (LEFT JOIN tasks t ON t.name = input.task). Args are
 * parsed again only for a template.
 */
export const FLOW_COLUMNS =
  'priority, concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period_ms, result_ttl_seconds';

export function flowValues(input: string, perRun: boolean): string {
  const own = (column: string) => (perRun ? `${input}.${column}` : 'NULL');
  return `COALESCE(${own('priority')}, t.priority, 0),
    COALESCE(${own('concurrency_key')},
             CASE WHEN t.concurrency_key IS NOT NULL
                  THEN tickwork_expand_key(t.concurrency_key, ${input}.args::jsonb) END),
    CASE WHEN ${own('concurrency_key')} IS NOT NULL THEN ${own('concurrency_limit')}
         WHEN t.concurrency_key IS NOT NULL THEN t.concurrency_limit END,
    CASE WHEN t.rate_limit IS NOT NULL
         THEN tickwork_expand_key(COALESCE(t.rate_key, t.name), ${input}.args::jsonb) END,
    t.rate_limit, t.rate_period_ms,
    COALESCE(${own('result_ttl_seconds')}, t.result_ttl_seconds)`;
}
