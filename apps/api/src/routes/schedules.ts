import type { FastifyPluginCallbackTypebox } from '@fastify/type-provider-typebox';
import {
  databaseNow,
  deleteSchedule,
  getSchedule,
  insertRun,
  insertSchedule,
  listScheduleRows,
  lockSchedule,
  nextFireTime,
  normalizeTrigger,
  NotFoundError,
  toRun,
  touchLastRun,
  previewFireTimes,
  updateSchedule,
  withTransaction,
  type ScheduleFields,
  type ScheduleRow,
} from '@tickwork/core';
import { byId, DEFAULT_PAGE_SIZE, toPage } from '../pagination.js';
import { badRequest } from '../problem.js';
import { IdParams, NoContent } from '../schemas/common.js';
import { Run, RunList, ScheduleRunsQuery, withArgFilters } from '../schemas/runs.js';
import {
  CreateScheduleBody,
  PatchScheduleBody,
  Preview,
  PreviewBody,
  Schedule,
  ScheduleList,
  ScheduleListQuery,
} from '../schemas/schedules.js';
import { assertScheduleQuota } from '../schedule-quota.js';
import {
  assertNotOwned,
  newScheduleFields,
  nextRun,
  SCHEDULE_DEFAULTS,
  triggerOf,
} from '../schedule-rules.js';
import { scheduleItems, scheduleView, UPCOMING_PAGE_MAX, wantsUpcoming } from '../schedule-views.js';
import { argMatches, listRuns, runArgFilters } from './runs.js';

export const scheduleRoutes: FastifyPluginCallbackTypebox = (app, _options, done) => {
  const { pool, taskGate } = app.deps;
  const owners = (app.deps.extensions ?? []).flatMap((e) => e.scheduleOwners ?? []);
  const toSchedule = scheduleView(owners);
  const argFilters = runArgFilters(app.deps);

  async function existing(id: number): Promise<ScheduleRow> {
    const found = await getSchedule(pool, id);
    if (!found) throw new NotFoundError('schedule', id);
    return found;
  }

  /** Read-modify-write of one schedule under its row lock, with the database clock. */
  async function modify(
    id: number,
    change: (current: ScheduleRow, now: Date) => Partial<ScheduleFields>,
  ): Promise<ScheduleRow> {
    return withTransaction(pool, async (client) => {
      const locked = await lockSchedule(client, id);
      if (!locked) throw new NotFoundError('schedule', id);
      assertNotOwned(locked.schedule, owners);
      const changes = change(locked.schedule, locked.now);
      if (Object.keys(changes).length === 0) return locked.schedule;
      const before = locked.schedule.trigger;
      if (changes.trigger) await assertScheduleQuota(client, app.deps.config, changes.trigger, before);
      return (await updateSchedule(client, id, changes)) ?? locked.schedule;
    });
  }

  const idRoute = (summary: string, response: Record<number, unknown>, description?: string) => ({
    schema: {
      summary,
      tags: ['schedules'],
      params: IdParams,
      response,
      ...(description ? { description } : {}),
    },
  });

  app.post(
    '/schedules',
    {
      schema: {
        summary: 'Create a schedule',
        description: `A task on a timetable. Defaults: queue and retries from the task; misfireGraceSeconds ${SCHEDULE_DEFAULTS.misfireGraceSeconds}, coalesce ${SCHEDULE_DEFAULTS.coalesce}, maxInstances ${SCHEDULE_DEFAULTS.maxInstances}.`,
        tags: ['schedules'],
        body: CreateScheduleBody,
        response: { 201: Schedule },
      },
    },
    async (request, reply) => {
      const b = request.body;
      await taskGate.prepare([b.task]);
      const task = taskGate.check(b.task, b.args);
      taskGate.checkQueue(b.queue);
      const now = await databaseNow(pool);
      const trigger = triggerOf(b.trigger, now);
      const row = await withTransaction(pool, async (client) => {
        await assertScheduleQuota(client, app.deps.config, trigger);
        return insertSchedule(client, newScheduleFields(b, task, trigger, now));
      });
      return reply.code(201).header('location', `/api/v1/schedules/${row.id}`).send(toSchedule(row));
    },
  );

  app.get(
    '/schedules',
    {
      schema: {
        summary: 'List schedules, oldest first',
        description: `Items leave out \`upcoming\` unless \`include=upcoming\` (then \`limit\` is at most ${UPCOMING_PAGE_MAX}); GET /schedules/{id} always has it.`,
        tags: ['schedules'],
        querystring: ScheduleListQuery,
        response: { 200: ScheduleList },
      },
    },
    async (request) => {
      const q = request.query;
      const limit = q.limit ?? DEFAULT_PAGE_SIZE;
      const withUpcoming = wantsUpcoming(q.include, limit);
      const rows = await listScheduleRows(pool, {
        enabled: q.enabled,
        task: q.task,
        cursor: q.cursor === undefined ? undefined : Number(q.cursor),
        limit,
        offset: q.offset,
      });
      const page = toPage(rows, limit, (row) => row, byId);
      return { ...page, items: await scheduleItems(page.items, withUpcoming, toSchedule) };
    },
  );

  app.post(
    '/schedules/preview',
    {
      // Creates nothing: a read token may preview (the dashboard's cron preview).
      config: { access: 'read' },
      schema: {
        summary: 'Preview the fire times of a trigger',
        description:
          'Validates a trigger and lists its next `count` fire times within five years, without creating anything: a rare cron lists fewer.',
        tags: ['schedules'],
        body: PreviewBody,
        response: { 200: Preview },
      },
    },
    async (request) => {
      const now = await databaseNow(pool);
      const result = normalizeTrigger(request.body.trigger, now);
      if ('problems' in result)
        throw badRequest(result.problems.map((p) => `${p.field} ${p.message}`).join('; '), result.problems);
      const upcoming = previewFireTimes(result.trigger, now, request.body.count ?? 10);
      return { trigger: result.trigger, upcoming: upcoming.map((d) => d.toISOString()) };
    },
  );

  app.get('/schedules/:id', idRoute('One schedule', { 200: Schedule }), async (request) =>
    toSchedule(await existing(request.params.id)),
  );

  app.patch(
    '/schedules/:id',
    {
      schema: {
        summary: 'Change a schedule',
        description:
          'Partial update. A new trigger, or a change of `enabled`, recomputes nextRunAt from now; task and args are checked together.',
        tags: ['schedules'],
        params: IdParams,
        body: PatchScheduleBody,
        response: { 200: Schedule },
      },
    },
    async (request) => {
      const b = request.body;
      await taskGate.prepare(b.task === undefined ? [] : [b.task]);
      const row = await modify(request.params.id, (current, now) => {
        const task = b.task ?? current.task;
        const { contract, args } = taskGate.check(task, b.args !== undefined ? b.args : current.args);
        taskGate.checkQueue(b.queue);
        const trigger = b.trigger ? triggerOf(b.trigger, now) : current.trigger;
        const enabled = b.enabled ?? current.enabled;
        const retimed = b.trigger !== undefined || enabled !== current.enabled;
        return {
          name: b.name,
          task: contract.name,
          args,
          queue: b.queue ?? (b.task !== undefined && b.task !== current.task ? contract.queue : undefined),
          trigger: b.trigger ? trigger : undefined,
          enabled: b.enabled,
          maxRetries: b.maxRetries,
          timeoutSeconds: b.timeoutSeconds,
          coalesceMissed: b.coalesce,
          maxInstances: b.maxInstances,
          ...(b.misfireGraceSeconds !== undefined ? { misfireGraceSeconds: b.misfireGraceSeconds } : {}),
          ...(retimed ? { nextRunAt: nextRun(trigger, enabled, now) } : {}),
        };
      });
      return toSchedule(row);
    },
  );

  app.delete(
    '/schedules/:id',
    idRoute(
      'Delete a schedule',
      { 204: NoContent },
      'Its runs stay (with their scheduleId); runs already queued still run.',
    ),
    async (request, reply) => {
      assertNotOwned(await existing(request.params.id), owners);
      if (!(await deleteSchedule(pool, request.params.id)))
        throw new NotFoundError('schedule', request.params.id);
      return reply.code(204).send();
    },
  );

  app.post(
    '/schedules/:id/pause',
    idRoute('Pause a schedule', { 200: Schedule }, 'No fires until resumed; nextRunAt becomes null.'),
    async (request) =>
      toSchedule(
        await modify(request.params.id, (current) =>
          current.enabled ? { enabled: false, nextRunAt: null } : {},
        ),
      ),
  );

  app.post(
    '/schedules/:id/resume',
    idRoute(
      'Resume a paused schedule',
      { 200: Schedule },
      'The timetable continues from now: due times that passed while paused do not fire.',
    ),
    async (request) =>
      toSchedule(
        await modify(request.params.id, (current, now) =>
          current.enabled ? {} : { enabled: true, nextRunAt: nextFireTime(current.trigger, now) },
        ),
      ),
  );

  app.post(
    '/schedules/:id/trigger',
    idRoute(
      'Run a schedule now, outside its timetable',
      { 202: Run },
      'The run has the scheduleId and no scheduledFor; it counts towards maxInstances but ignores it.',
    ),
    async (request, reply) => {
      const s = await existing(request.params.id);
      const { run } = await insertRun(pool, {
        task: s.task,
        args: s.args,
        queue: s.queue,
        maxRetries: s.maxRetries,
        timeoutSeconds: s.timeoutSeconds,
        scheduleId: s.id,
      });
      await touchLastRun(pool, s.id);
      await app.deps.outbox.publishRun(run);
      return reply.code(202).send(toRun(run));
    },
  );

  app.get(
    '/schedules/:id/runs',
    {
      schema: {
        summary: "A schedule's runs, newest first",
        tags: ['schedules'],
        params: IdParams,
        querystring: withArgFilters(ScheduleRunsQuery, argFilters),
        response: { 200: RunList },
      },
    },
    async (request) => {
      await existing(request.params.id);
      return listRuns(
        pool,
        { ...request.query, scheduleId: request.params.id },
        app.deps.config.apiLimits.listValueMaxBytes,
        argMatches(argFilters, request.query),
      );
    },
  );
  done();
};
