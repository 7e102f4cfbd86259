import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { Static } from 'typebox';
import {
  cancelRun,
  getRun,
  InvalidTransitionError,
  listAttempts,
  NotFoundError,
  countRunsPerStatus,
  listRunRows,
  retryRunManually,
  toRun,
  type RunListFilters,
  type RunRow,
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

/** The filters the extensions add to run lists. */
export const runArgFilters = (deps: Pick<ApiDeps, 'extensions'>): RunArgFilter[] =>
  (deps.extensions ?? []).flatMap((e) => e.runFilters ?? []);

/** The extensions' filters a query sets (validated by their schemas: integers or strings). */
export function argMatches(
  filters: readonly RunArgFilter[],
  values: ArgFilterValues,
): RunListFilters['args'] {
  return filters.flatMap((f) => {
    const value = values[f.param];
    if (typeof value !== 'number' && typeof value !== 'string') return [];
    return [{ task: f.task, arg: f.arg, value }];
  });
}

/** Runs matching the filters, newest first: one page and the cursor of the next (the SQL is core's). */
export async function listRuns(
  pool: ApiDeps['pool'],
  q: RunFilters,
  valueCap: number,
  args: RunListFilters['args'] = [],
): Promise<Static<typeof RunList>> {
  const limit = q.limit ?? DEFAULT_PAGE_SIZE;
  const rows = await listRunRows(
    pool,
    { ...q, cursor: q.cursor === undefined ? undefined : Number(q.cursor), limit, args },
    valueCap,
  );
  return toPage(rows, limit, (row) => listed(row, valueCap), byId);
}

/** A listed run, saying which of its values were left out. */
export function listed(row: RunRow, valueCap: number): Run {
  const omitted: Array<'args' | 'result'> = [];
  if ((row.argsBytes ?? 0) > valueCap) omitted.push('args');
  if ((row.resultBytes ?? 0) > valueCap) omitted.push('result');
  return { ...toRun(row), omitted };
}

export const runRoutes: FastifyPluginCallbackTypebox = (app, _options, done) => {
  const { pool, broker, logger } = app.deps;
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
        pool,
        request.query,
        app.deps.config.apiLimits.listValueMaxBytes,
        argMatches(argFilters, request.query),
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
      const rows = await countRunsPerStatus(pool, COUNT_CAP);
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
