import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { Static } from 'typebox';
import { and, desc, eq, getTableColumns, lt, sql, type SQL } from 'drizzle-orm';
import {
  cancelRun,
  getRun,
  InvalidTransitionError,
  listAttempts,
  NotFoundError,
  retryRunManually,
  RUN_STATUSES,
  schema,
  toRun,
  type RunRow,
  type RunStatus,
} from '@tickwork/core';
import type { ApiDeps } from '../deps.js';
import type { RunArgFilter } from '../extension.js';
import { byId, DEFAULT_PAGE_SIZE, toPage } from '../pagination.js';
import { IdParams } from '../schemas/common.js';
import {
  AttemptList,
  Run,
  RunCounts,
  RunList,
  RunListQuery,
  withArgFilters,
  type RunFilters,
} from '../schemas/runs.js';

/** Above this many runs in one status, GET /runs/counts says "more" instead of counting on. */
const COUNT_CAP = 10_000;

/** The values of extensions' filters (RunArgFilter) in a query, by parameter name. */
export type ArgFilterValues = Readonly<Record<string, unknown>>;

/** `args ->> '<arg>'` with the key inlined, as an index on it is written: a parameter would not match. */
const argText = (arg: string) => sql`${schema.runs.args} ->> ${sql.raw(`'${arg.replaceAll("'", "''")}'`)}`;

/** The filters the extensions add to run lists. */
export const runArgFilters = (deps: Pick<ApiDeps, 'extensions'>): RunArgFilter[] =>
  (deps.extensions ?? []).flatMap((e) => e.runFilters ?? []);

/** The conditions of the extensions' filters a query sets (validated by their schemas: integers or strings). */
export function argConditions(filters: readonly RunArgFilter[], values: ArgFilterValues): SQL[] {
  return filters.flatMap((f) => {
    const value = values[f.param];
    if (typeof value !== 'number' && typeof value !== 'string') return [];
    return [eq(schema.runs.task, f.task), sql`${argText(f.arg)} = ${String(value)}`];
  });
}

/**
 * Runs matching the filters, newest first, one page and the cursor of the next. Args and results larger
 * than `valueCap` bytes are left out in SQL (by their stored sizes), so a page of big runs never passes
 * through this process; error stacks are left out too.
 */
export async function listRuns(
  db: ApiDeps['db'],
  q: RunFilters,
  valueCap: number,
  extensionConditions: readonly SQL[] = [],
): Promise<Static<typeof RunList>> {
  const limit = q.limit ?? DEFAULT_PAGE_SIZE;
  const r = schema.runs;
  const where: SQL[] = [];
  if (q.status) where.push(eq(r.status, q.status));
  if (q.task) where.push(eq(r.task, q.task));
  if (q.queue) where.push(eq(r.queue, q.queue));
  if (q.scheduleId) where.push(eq(r.scheduleId, q.scheduleId));
  // An extension's filter matches its partial index (e.g. runs_bot_config_idx of @tickwork/bots).
  where.push(...extensionConditions);
  if (q.cursor) where.push(lt(r.id, Number(q.cursor)));
  // Runs from before migration 0007 have no stored sizes: measured here (history only, bounded by retention).
  const argsBytes = sql<number>`COALESCE(${r.argsBytes}, octet_length(${r.args}::text))`;
  const resultBytes = sql<number | null>`COALESCE(${r.resultBytes}, octet_length(${r.result}::text))`;
  const rows = await db
    .select({
      ...getTableColumns(r),
      args: sql<unknown>`CASE WHEN ${argsBytes} <= ${valueCap} THEN ${r.args} END`,
      result: sql<unknown>`CASE WHEN ${resultBytes} <= ${valueCap} THEN ${r.result} END`,
      error: sql<unknown>`${r.error} - 'stack'`,
      argsBytes,
      resultBytes,
    })
    .from(r)
    .where(and(...where))
    .orderBy(desc(r.id))
    .limit(limit + 1)
    .offset(q.offset ?? 0);
  return toPage(rows, limit, (row) => listed(row, valueCap), byId);
}

/** A listed run, saying which of its values were left out. */
function listed(row: RunRow, valueCap: number): Run {
  const omitted: Array<'args' | 'result'> = [];
  if ((row.argsBytes ?? 0) > valueCap) omitted.push('args');
  if ((row.resultBytes ?? 0) > valueCap) omitted.push('result');
  return { ...toRun(row), omitted };
}

export const runRoutes: FastifyPluginCallbackTypebox = (app, _options, done) => {
  const { pool, db, broker, logger } = app.deps;
  const argFilters = runArgFilters(app.deps);

  async function existing(id: number): Promise<RunRow> {
    const run = await getRun(pool, id);
    if (!run) throw new NotFoundError('run', id);
    return run;
  }

  app.get(
    '/runs',
    {
      schema: {
        summary: 'List runs, newest first',
        description:
          'Args and results larger than API_LIST_VALUE_MAX_BYTES (default 4 KiB) are null in the list and named in `omitted`; error stacks are left out. GET /runs/{id} returns everything.',
        tags: ['runs'],
        querystring: withArgFilters(RunListQuery, argFilters),
        response: { 200: RunList },
      },
    },
    async (request) =>
      listRuns(
        db,
        request.query,
        app.deps.config.apiLimits.listValueMaxBytes,
        argConditions(argFilters, request.query),
      ),
  );

  app.get(
    '/runs/counts',
    {
      schema: {
        summary: 'How many runs are in each status',
        description: `Exact up to ${COUNT_CAP.toLocaleString('en')} per status; \`capped\` says there are more (counting a long history exactly would scan it).`,
        tags: ['runs'],
        response: { 200: RunCounts },
      },
    },
    async () => {
      const { rows } = await pool.query<{ status: RunStatus; count: number }>(
        `SELECT s.status, (SELECT count(*) FROM (SELECT 1 FROM runs r WHERE r.status = s.status LIMIT $1) AS x)::int AS count
         FROM unnest($2::text[]) AS s(status)`,
        [COUNT_CAP + 1, [...RUN_STATUSES]],
      );
      return rows.map(({ status, count }) => ({
        status,
        count: Math.min(count, COUNT_CAP),
        capped: count > COUNT_CAP,
      }));
    },
  );

  app.get(
    '/runs/:id',
    {
      schema: {
        summary: 'One run, with its result or error',
        tags: ['runs'],
        params: IdParams,
        response: { 200: Run },
      },
    },
    async (request) => toRun(await existing(request.params.id)),
  );

  app.get(
    '/runs/:id/attempts',
    {
      schema: {
        summary: "A run's attempts, oldest first",
        description:
          'Each attempt that ended without success (with its error, worker and times), then the latest one while it runs or once it succeeded. The latest 100 at most; attempts made before migration 0006 are not listed.',
        tags: ['runs'],
        params: IdParams,
        response: { 200: AttemptList },
      },
    },
    async (request) => listAttempts(pool, await existing(request.params.id)),
  );

  app.post(
    '/runs/:id/retry',
    {
      schema: {
        summary: 'Run a failed or cancelled run again (one more attempt)',
        tags: ['runs'],
        params: IdParams,
        response: { 202: Run },
      },
    },
    async (request, reply) => {
      const run = await retryRunManually(pool, request.params.id);
      if (!run) {
        const current = await existing(request.params.id);
        throw new InvalidTransitionError(
          current.id,
          current.status,
          'retried (only failed or cancelled runs can)',
        );
      }
      await app.deps.outbox.publishRun(run);
      return reply.code(202).send(toRun(run));
    },
  );

  app.post(
    '/runs/:id/cancel',
    {
      schema: {
        summary: 'Cancel a run',
        description:
          'A scheduled, queued or retrying run is cancelled at once. A running run gets a cancel request (`cancelRequestedAt`): its worker aborts the task and the run becomes `cancelled` moments later.',
        tags: ['runs'],
        params: IdParams,
        response: { 200: Run },
      },
    },
    async (request) => {
      const run = await cancelRun(pool, request.params.id);
      if (!run) {
        const current = await existing(request.params.id);
        throw new InvalidTransitionError(current.id, current.status, 'cancelled (it has finished)');
      }
      if (run.status === 'running') {
        await broker
          .publishControl({ type: 'cancel', runId: run.id })
          .catch((error: unknown) =>
            logger.warn({ err: error, runId: run.id }, 'cancel broadcast failed; workers poll for it'),
          );
      }
      return toRun(run);
    },
  );
  done();
};
