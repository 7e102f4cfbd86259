import {
  insertSchedule,
  lockSchedule,
  nextFireTime,
  updateSchedule,
  type PoolClient,
  type ScheduleFields,
  type Trigger,
} from '@tickwork/core';
import { assertScheduleQuota, type ScheduleQuota } from '@tickwork/api/extension';
import { SCRAPE_BOT } from '../contract.js';
import { botOwner, type BotWithSchedule } from '../db/queries.js';

/*
 * A bot's scrape schedule follows its bot: created with it, enabled while autoScrapeEnabled, retimed
 * with its interval, deleted with it (deleteBot). It is owned by the bot (schedules.owner
 * `bot-config:<id>`), so the API's /schedules routes refuse to change it: only the bot routes do.
 */

/** A bot scrapes on an interval timetable anchored at `anchor`; its first scrape is at the anchor. */
const scrapeTrigger = (hours: number, anchor: Date): Trigger => ({
  type: 'interval',
  seconds: Math.max(1, Math.round(hours * 3600)),
  startAt: anchor.toISOString(),
});

/**
 * The bot's scrape schedule. A bot scrapes as soon as auto-scrape is on, then every interval; after an
 * outage it catches up once (no grace limit, coalesced), and never runs two scrapes of itself at once.
 */
export function scrapeSchedule(
  botConfigId: number,
  hours: number,
  enabled: boolean,
  now: Date,
): ScheduleFields {
  return {
    name: `bot-config-${botConfigId} scrape`,
    task: SCRAPE_BOT.name,
    args: { botConfigId },
    queue: SCRAPE_BOT.queue,
    trigger: scrapeTrigger(hours, now),
    enabled,
    maxRetries: SCRAPE_BOT.maxRetries,
    timeoutSeconds: SCRAPE_BOT.timeoutSeconds,
    misfireGraceSeconds: null,
    coalesceMissed: true,
    maxInstances: 1,
    nextRunAt: enabled ? now : null,
    owner: botOwner(botConfigId),
  };
}

/** Creates the bot's scrape schedule, if the schedule quotas leave room for it (409 otherwise). */
export async function createScrapeSchedule(
  client: PoolClient,
  quota: ScheduleQuota,
  ...fields: Parameters<typeof scrapeSchedule>
): Promise<void> {
  const schedule = scrapeSchedule(...fields);
  await assertScheduleQuota(client, quota, schedule.trigger);
  await insertSchedule(client, schedule);
}

/** Keeps the bot's schedule in step with a change of its flag or interval, within the quotas. */
export async function followBot(
  client: PoolClient,
  quota: ScheduleQuota,
  bot: BotWithSchedule,
  change: { autoScrapeEnabled?: boolean | undefined; scrapeIntervalHours?: number | undefined },
  now: Date,
): Promise<void> {
  const enabled = change.autoScrapeEnabled ?? bot.autoScrapeEnabled;
  const hours = change.scrapeIntervalHours ?? bot.scrapeIntervalHours;
  const locked = bot.scheduleId === null ? undefined : await lockSchedule(client, bot.scheduleId);
  if (!locked) {
    await createScrapeSchedule(client, quota, bot.id, hours, enabled, now);
    return;
  }
  const { schedule } = locked;
  const retimed =
    change.scrapeIntervalHours !== undefined && change.scrapeIntervalHours !== bot.scrapeIntervalHours;
  // A new interval keeps the rhythm of the last scrape: the next one is an interval after it.
  const trigger = retimed ? scrapeTrigger(hours, schedule.lastRunAt ?? now) : schedule.trigger;
  if (!retimed && enabled === schedule.enabled) return;
  if (retimed) await assertScheduleQuota(client, quota, trigger, schedule.trigger);
  await updateSchedule(client, schedule.id, {
    enabled,
    ...(retimed ? { trigger } : {}),
    nextRunAt: enabled ? nextFireTime(trigger, now) : null,
  });
}
