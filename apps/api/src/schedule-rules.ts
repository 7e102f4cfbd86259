import type { Static } from 'typebox';
import {
  ConflictError,
  nextFireTime,
  normalizeTrigger,
  type ScheduleFields,
  type ScheduleRow,
  type TaskContract,
  type Trigger,
} from '@tickwork/core';
import { badRequest } from './problem.js';
import type { CreateScheduleBody, PatchScheduleBody } from './schemas/schedules.js';

/** APScheduler's defaults, except the grace: one second is too tight for a replicated scheduler. */
export const SCHEDULE_DEFAULTS = { misfireGraceSeconds: 60, coalesce: true, maxInstances: 1 } as const;

/** The trigger with its defaults filled in, or a 400 naming the offending field. */
export function triggerOf(input: Static<typeof PatchScheduleBody>['trigger'], now: Date): Trigger {
  const result = normalizeTrigger(input, now);
  if ('problems' in result) {
    throw badRequest(result.problems.map((p) => `${p.field} ${p.message}`).join('; '), result.problems);
  }
  if (result.trigger.type === 'date' && new Date(result.trigger.runAt) <= now) {
    throw badRequest('trigger.runAt is in the past; to run a task now, POST /api/v1/tasks', [
      { field: 'trigger.runAt', message: 'is in the past' },
    ]);
  }
  return result.trigger;
}

/** A new schedule's fields: the body, with the task's queue and retries and SCHEDULE_DEFAULTS for the rest. */
export function newScheduleFields(
  b: Static<typeof CreateScheduleBody>,
  task: { contract: TaskContract; args: unknown },
  trigger: Trigger,
  now: Date,
): ScheduleFields {
  const enabled = b.enabled ?? true;
  return {
    name: b.name,
    task: task.contract.name,
    args: task.args,
    queue: b.queue ?? task.contract.queue,
    trigger,
    enabled,
    maxRetries: b.maxRetries ?? task.contract.maxRetries,
    timeoutSeconds: b.timeoutSeconds ?? task.contract.timeoutSeconds,
    misfireGraceSeconds:
      b.misfireGraceSeconds === undefined ? SCHEDULE_DEFAULTS.misfireGraceSeconds : b.misfireGraceSeconds,
    coalesceMissed: b.coalesce ?? SCHEDULE_DEFAULTS.coalesce,
    maxInstances: b.maxInstances ?? SCHEDULE_DEFAULTS.maxInstances,
    nextRunAt: nextRun(trigger, enabled, now),
  };
}

/** The next fire after `now`, or none while the schedule is paused. */
export const nextRun = (trigger: Trigger, enabled: boolean, now: Date) =>
  enabled ? nextFireTime(trigger, now) : null;

/** A bot's scrape schedule follows its bot: edits go through /bot-configs, so the two never disagree. */
export function assertNotBotManaged(schedule: ScheduleRow): void {
  if (schedule.botConfigId !== null) {
    throw new ConflictError(
      `schedule ${schedule.id} is managed by bot config ${schedule.botConfigId}; change it with PATCH or DELETE /api/v1/bot-configs/${schedule.botConfigId}`,
    );
  }
}
