import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import type { Static } from 'typebox';
import {
  BULK_MAX_RUNS,
  BULK_SAMPLE_SIZE,
  cancelMatchingRuns,
  countFailedRuns,
  filterProblems,
  isEmptyFilter,
  listFailedRunRows,
  previewBulk,
  retryMatchingRuns,
  type BulkAction,
  type RunFilter as CoreRunFilter,
  type RunStatus,
} from '@tickwork/core';
import { byId, DEFAULT_PAGE_SIZE, toPage } from '../pagination.js';
import { HttpProblem } from '../problem.js';
import { listed } from './runs.js';
import { BulkBody, BulkResult, FailedRunList, FailedRunsQuery, type RunFilter } from '../schemas/bulk.js';

/** Above this many failed runs matching, GET /runs/failed says "more" instead of counting on. */
const COUNT_CAP = 10_000;
/** Retried runs are published this many at a time: RabbitMQ confirms each batch before the next. */
const PUBLISH_CHUNK = 1000;

type BulkReply = Static<typeof BulkResult>;

const date = (iso: string | undefined) => (iso === undefined ? undefined : new Date(iso));

/** The request's filter as the engine takes it: one status or several, times as dates. */
function toCoreFilter(
  filter: Omit<RunFilter, 'status'> & { status?: RunStatus | RunStatus[] },
): CoreRunFilter {
  const status = filter.status === undefined ? undefined : [filter.status].flat();
  return {
    status,
    task: filter.task,
    queue: filter.queue,
    createdAfter: date(filter.createdAfter),
    createdBefore: date(filter.createdBefore),
    finishedAfter: date(filter.finishedAfter),
    finishedBefore: date(filter.finishedBefore),
    errorContains: filter.errorContains,
    scheduleId: filter.scheduleId,
  };
}

/** A filter the action cannot take (a status it does not apply to, an inverted range): 400. */
function checkFilter(action: BulkAction, filter: CoreRunFilter, prefix: string): void {
  const problems = filterProblems(action, filter, prefix);
  if (problems.length > 0)
    throw new HttpProblem(
      400,
      'Bad Request',
      problems.map((p) => `${p.field} ${p.message}`).join('; '),
      problems,
      'invalid_filter',
    );
}

const bulkDescription = (what: string) =>
  `${what} At most \`limit\` runs (default and most ${BULK_MAX_RUNS.toLocaleString('en')}) change per request, oldest first; \`remaining\` says how many more match (call again for them). With \`dryRun: true\` nothing changes: \`matched\` is the count and \`sampleIds\` names up to ${BULK_SAMPLE_SIZE}. Bad filters (a status the action does not apply to, an inverted time range) are a 400 \`invalid_filter\`.`;

export const bulkRoutes: FastifyPluginCallbackTypebox = (app, _options, done) => {
  const { pool, broker, outbox } = app.deps;

  /** The engine's filter of a bulk request, checked; a dry run answers here. */
  async function prepare(
    action: BulkAction,
    body: BulkBody,
  ): Promise<{ filter: CoreRunFilter; preview?: BulkReply }> {
    const filter = toCoreFilter(body.filter ?? {});
    checkFilter(action, filter, 'filter.');
    if (!body.dryRun) return { filter };
    const { matched, running, sampleIds } = await previewBulk(pool, action, filter);
    return {
      filter,
      preview: {
        action,
        dryRun: true,
        matched,
        affected: 0,
        cancelRequested: action === 'cancel' ? running : 0,
        remaining: matched,
        sampleIds,
      },
    };
  }

  app.post(
    '/runs/bulk-retry',
    {
      schema: {
        summary: 'Retry every failed (or cancelled) run matching a filter, or count them first',
        description: bulkDescription(
          'Each matching run goes back to queued for one more attempt, as POST /runs/{id}/retry does, and is published at once. Without a status in the filter only failed runs are taken (the redrive); name `cancelled` to retry cancelled runs too. An empty filter retries every failed run.',
        ),
        tags: ['runs'],
        body: BulkBody,
        response: { 200: BulkResult },
      },
    },
    async (request): Promise<BulkReply> => {
      const { filter, preview } = await prepare('retry', request.body);
      if (preview) return preview;
      const { runs, remaining } = await retryMatchingRuns(pool, filter, request.body.limit);
      // Committed first (the outbox): a publish that fails leaves the run to the relay, never lost.
      for (let i = 0; i < runs.length; i += PUBLISH_CHUNK)
        await outbox.publish(runs.slice(i, i + PUBLISH_CHUNK));
      request.log.info({ action: 'retry', affected: runs.length, remaining }, 'bulk action');
      return {
        action: 'retry',
        dryRun: false,
        matched: runs.length + remaining,
        affected: runs.length,
        cancelRequested: 0,
        remaining,
        sampleIds: runs.slice(0, BULK_SAMPLE_SIZE).map((r) => r.id),
      };
    },
  );

  app.post(
    '/runs/bulk-cancel',
    {
      schema: {
        summary: 'Cancel every unfinished run matching a filter, or count them first',
        description: bulkDescription(
          'Scheduled, queued, waiting and retrying runs are cancelled at once; running runs get a cancel request, as POST /runs/{id}/cancel does, and their workers abort them moments later. An empty filter (which would cancel everything) is refused with 400 `filter_required` unless `all: true`.',
        ),
        tags: ['runs'],
        body: BulkBody,
        response: { 200: BulkResult },
      },
    },
    async (request): Promise<BulkReply> => {
      const { filter, preview } = await prepare('cancel', request.body);
      if (isEmptyFilter(filter) && request.body.all !== true)
        throw new HttpProblem(
          400,
          'Bad Request',
          'an empty filter would cancel every unfinished run: narrow the filter, or send "all": true',
          [{ field: 'filter', message: 'is empty; send "all": true to cancel everything' }],
          'filter_required',
        );
      if (preview) return preview;
      const { cancelled, requested, remaining } = await cancelMatchingRuns(pool, filter, request.body.limit);
      // As for one run: the broadcast reaches the worker now; workers also poll for requests they missed.
      await Promise.all(
        requested.map((runId) =>
          broker
            .publishControl({ type: 'cancel', runId })
            .catch((error: unknown) =>
              request.log.warn({ err: error, runId }, 'cancel broadcast failed; workers poll for it'),
            ),
        ),
      );
      const affected = [...cancelled, ...requested].sort((a, b) => a - b);
      request.log.info(
        { action: 'cancel', cancelled: cancelled.length, cancelRequested: requested.length, remaining },
        'bulk action',
      );
      return {
        action: 'cancel',
        dryRun: false,
        matched: affected.length + remaining,
        affected: affected.length,
        cancelRequested: requested.length,
        remaining,
        sampleIds: affected.slice(0, BULK_SAMPLE_SIZE),
      };
    },
  );

  app.get(
    '/runs/failed',
    {
      schema: {
        summary: 'Runs that failed after all their retries, newest first (the redrive view)',
        description:
          'Failed runs matching the filter (the fields of the bulk actions\u2019 filter, status aside), with their count; POST /runs/bulk-retry with the same filter redrives them. Lists leave out large values and error stacks, as GET /runs does.',
        tags: ['runs'],
        querystring: FailedRunsQuery,
        response: { 200: FailedRunList },
      },
    },
    async (request): Promise<Static<typeof FailedRunList>> => {
      const { limit = DEFAULT_PAGE_SIZE, cursor, ...rest } = request.query;
      const filter = toCoreFilter(rest);
      checkFilter('retry', filter, '');
      const valueCap = app.deps.config.apiLimits.listValueMaxBytes;
      const [rows, count] = await Promise.all([
        listFailedRunRows(
          pool,
          filter,
          { limit, cursor: cursor === undefined ? undefined : Number(cursor) },
          valueCap,
        ),
        countFailedRuns(pool, filter, COUNT_CAP),
      ]);
      const page = toPage(rows, limit, (row) => listed(row, valueCap), byId);
      return { ...page, count: Math.min(count, COUNT_CAP), capped: count > COUNT_CAP };
    },
  );
  done();
};
