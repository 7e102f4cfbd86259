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
import type { ScheduleOwnerKind } from './extension.js';
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

/** An owner (`<kind>:<key>`) split at its first colon; a kind alone has an empty key. */
export function splitOwner(owner: string): { kind: string; key: string } {
  const at = owner.indexOf(':');
  return at < 0 ? { kind: owner, key: '' } : { kind: owner.slice(0, at), key: owner.slice(at + 1) };
}

/**
 * A schedule with an owner (a bot's scrape schedule) follows its owner: edits go through the owner's
 * routes (which its extension names), so the two never disagree. 409 naming the owner otherwise.
 */
export function assertNotOwned(schedule: ScheduleRow, kinds: readonly ScheduleOwnerKind[]): void {
  if (schedule.owner === null) return;
  const { kind, key } = splitOwner(schedule.owner);
  const known = kinds.find((k) => k.kind === kind);
  const owner = known ? `${known.describe(key)} (owner "${schedule.owner}")` : `"${schedule.owner}"`;
  const how = known ? `change it with ${known.manage(key)}` : 'change it through its owner';
  throw new ConflictError(`schedule ${schedule.id} is managed by ${owner}; ${how}`);
}
