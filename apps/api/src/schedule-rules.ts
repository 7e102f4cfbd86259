import type { Static } from 'typebox';
import {
  ConflictError,
  nextFireTime,
  normalizeTrigger,
  type ScheduleRow,
  type Trigger,
} from '@tickwork/shared';
import { badRequest } from './problem.js';
import type { PatchScheduleBody } from './schemas/schedules.js';

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
