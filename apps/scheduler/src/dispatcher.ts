import {
  advanceSchedules,
  claimDueSchedules,
  insertScheduledRuns,
  isDatabaseUnavailable,
  metrics,
  nextDueTime,
  Outbox,
  promoteDueRuns,
  reapRunsOfDeadWorkers,
  withTransaction,
  type Broker,
  type Logger,
  type Pool,
  type DueSchedule,
  type ScheduleAdvance,
  type ScheduledRun,
} from '@tickwork/core';
import { planFires, type FirePlan } from './fire-plan.js';
import { Listener } from './listener.js';

export interface DispatcherOptions {
  pool: Pool;
  broker: Broker;
  logger: Logger;
  databaseUrl: string;
  /** Backstop poll: the longest the dispatcher sleeps without a notification. */
  pollMs: number;
  /** How long a queued run may stay unpublished before the relay publishes it. */
  relayAfterMs?: number;
  /**
   * How long after the database was last unreachable the reaper holds off (default 15 s). Workers lose
   * their presence sessions and miss heartbeats in the same outage: they need this long to be seen
   * alive again, or their running runs would be reaped and started a second time.
   */
  reapGraceMs?: number;
  /**
   * A run queued and published this long ago (default 60 s) while its queue holds no ready message has
   * lost its message (a purge by hand): it goes back to the relay. Checked every `lostMessageCheckMs`
   * (default 30 s; 0: every tick).
   */
  lostMessageAfterMs?: number;
  lostMessageCheckMs?: number;
  batchSize?: number;
}

/**
 * Turns due rows into messages. Each tick: fires due schedules (their runs committed, then published),
 * promotes scheduled and retrying runs whose time has come, relays queued runs nobody published, and
 * reaps runs whose worker died; its Outbox does the publishing. Sleeps until the earliest due time, a
 * NOTIFY, or the backstop poll. Any number of replicas may run: rows are locked with SKIP LOCKED, so
 * each is handled by one, and UNIQUE (schedule_id, scheduled_for) makes a schedule's due time fire once
 * whatever happens above it.
 */
export class Dispatcher {
  private readonly listener: Listener;
  private readonly outbox: Outbox;
  private timer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** PostgreSQL's clock minus ours, so due times from NOTIFY payloads convert to local timers. */
  private skewMs = 0;
  private readonly relayAfterMs: number;
  private readonly reapGraceMs: number;
  private readonly batchSize: number;
  private readonly lostMessageAfterMs: number;
  private readonly lostMessageCheckMs: number;
  private lostMessagesCheckedAt = -Infinity;
  /** When a database error was last seen (a failed tick, a pooled connection lost). */
  private databaseTroubleAt = -Infinity;
  private readonly onPoolError = () => (this.databaseTroubleAt = Date.now());

  constructor(private readonly o: DispatcherOptions) {
    this.relayAfterMs = o.relayAfterMs ?? 5000;
    this.reapGraceMs = o.reapGraceMs ?? 15_000;
    this.batchSize = o.batchSize ?? 500;
    this.lostMessageAfterMs = o.lostMessageAfterMs ?? 60_000;
    this.lostMessageCheckMs = o.lostMessageCheckMs ?? 30_000;
    this.outbox = new Outbox({ pool: o.pool, broker: o.broker, logger: o.logger });
    this.listener = new Listener(
      o.databaseUrl,
      'tickwork_due',
      (payload) => this.onNotify(payload),
      o.logger,
    );
  }

  start(): void {
    this.o.broker.onReady(() => {
      this.wake(0);
      return Promise.resolve();
    });
    this.o.broker.start();
    this.o.pool.on('error', this.onPoolError);
    this.listener.start();
    this.wake(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    this.o.pool.off('error', this.onPoolError);
    await this.listener.stop();
    await this.o.broker.stop();
  }

  /** Runs a tick now and resolves when it (and any tick it queued) is done. */
  async tickNow(): Promise<void> {
    await this.settled();
    this.runTick();
    await this.settled();
  }

  private async settled(): Promise<void> {
    for (let tick = this.ticking; tick; tick = this.ticking) await tick;
  }

  private onNotify(payload: string | undefined): void {
    const dueMs = Number(payload);
    this.wake(Number.isFinite(dueMs) ? dueMs - (Date.now() + this.skewMs) : 0);
  }

  /** Makes sure a tick runs within `inMs`; an earlier planned tick stays. */
  private wake(inMs: number): void {
    if (this.stopped) return;
    // Never sleep past the backstop poll (a far due time would also overflow setTimeout's 2^31 ms).
    const at = Date.now() + Math.min(Math.max(0, inMs), this.o.pollMs);
    if (this.timer && at >= this.wakeAt) return;
    clearTimeout(this.timer);
    this.wakeAt = at;
    this.timer = setTimeout(() => this.runTick(), at - Date.now());
  }

  private runTick(): void {
    this.timer = undefined;
    this.wakeAt = Infinity;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((error: unknown) => {
        if (isDatabaseUnavailable(error)) this.databaseTroubleAt = Date.now();
        metrics.dispatchTickFailed();
        this.o.logger.warn({ err: error }, 'dispatch tick failed');
      })
      .finally(() => {
        this.ticking = undefined;
        if (this.again) {
          this.again = false;
          this.wake(0);
        }
      });
  }

  private async tick(): Promise<void> {
    let failed = true;
    try {
      await this.reap();
      // Schedules fire even while RabbitMQ is away: their runs wait in the outbox for the relay.
      while ((await this.fireSchedules()) === this.batchSize);
      if (this.o.broker.isConnected) {
        while ((await this.promote()) === this.batchSize);
        await this.recoverLostMessages();
        while ((await this.outbox.relay(this.relayAfterMs, this.batchSize)) === this.batchSize);
      }
      failed = false;
    } finally {
      // After a failed tick, overdue rows would wake us at once: wait for the backstop poll instead.
      if (failed) this.wake(this.o.pollMs);
      else await this.planNextTick();
    }
  }

  /**
   * Due schedules: their fires become queued runs and their next fire is set, in one transaction; the
   * runs are published after it commits (a crash in between leaves them to the relay).
   */
  private async fireSchedules(): Promise<number> {
    const { claimed, runs, lateness, missed } = await withTransaction(this.o.pool, async (client) => {
      const due = await claimDueSchedules(client, this.batchSize);
      const fires: ScheduledRun[] = [];
      /** Per fire: its task and how late its run is inserted (the transaction's now() minus its due time). */
      const lateness: Array<[string, number]> = [];
      let missed = 0;
      const advances: ScheduleAdvance[] = [];
      for (const s of due) {
        const plan = this.planFor(s);
        for (const scheduledFor of plan.fire) {
          const { task, args, queue, maxRetries, timeoutSeconds } = s;
          fires.push({ scheduleId: s.id, scheduledFor, task, args, queue, maxRetries, timeoutSeconds });
          lateness.push([task, (s.now.getTime() - scheduledFor.getTime()) / 1000]);
        }
        missed += plan.missed;
        const lastRunAt = plan.fire.at(-1) ?? null;
        advances.push({ id: s.id, nextRunAt: plan.next, lastRunAt, missed: plan.missed });
        if (plan.missed > 0)
          this.o.logger.warn(
            { scheduleId: s.id, missed: plan.missed, dueAt: s.nextRunAt },
            'schedule missed due times (misfire grace, coalesce or maxInstances)',
          );
      }
      const inserted = await insertScheduledRuns(client, fires);
      await advanceSchedules(client, advances);
      return { claimed: due.length, runs: inserted, lateness, missed };
    });
    // Committed: count the fires (a fire another path inserted first is counted too; that is rare).
    for (const [task, seconds] of lateness) metrics.scheduleFired(task, seconds);
    if (missed > 0) metrics.schedulesMissed(missed);
    if (this.o.broker.isConnected) await this.outbox.publish(runs);
    return claimed;
  }

  /** A schedule whose trigger cannot be evaluated stops (nextRunAt null) rather than block the others. */
  private planFor(s: DueSchedule): FirePlan {
    try {
      return planFires(s.trigger, s.nextRunAt, s.now, s, s.unfinishedRuns);
    } catch (error) {
      this.o.logger.error(
        { err: error, scheduleId: s.id, trigger: s.trigger },
        'cannot compute the fire times of a schedule; it stops until its trigger is fixed (PATCH)',
      );
      return { fire: [], missed: 1, next: null };
    }
  }

  /** Due runs become queued (committed), then are published; a crash in between leaves them to the relay. */
  private async promote(): Promise<number> {
    const runs = await promoteDueRuns(this.o.pool, this.batchSize);
    if (runs.length > 0) metrics.runsPromoted(runs.length);
    await this.outbox.publish(runs);
    return runs.length;
  }

  /** Runs whose messages vanished from an empty queue go back to the relay, every lostMessageCheckMs. */
  private async recoverLostMessages(): Promise<void> {
    if (Date.now() - this.lostMessagesCheckedAt < this.lostMessageCheckMs) return;
    this.lostMessagesCheckedAt = Date.now();
    await this.outbox.recoverLostMessages(this.lostMessageAfterMs);
  }

  private async reap(): Promise<void> {
    if (Date.now() - this.databaseTroubleAt < this.reapGraceMs) return;
    const reaped = await reapRunsOfDeadWorkers(this.o.pool);
    for (const run of reaped) {
      metrics.runReaped(run.status);
      this.o.logger.warn({ runId: run.id, status: run.status }, 'reaped run of a dead worker');
    }
  }

  private async planNextTick(): Promise<void> {
    let inMs = this.o.pollMs;
    try {
      const { nowMs, dueMs } = await nextDueTime(this.o.pool);
      this.skewMs = nowMs - Date.now();
      if (dueMs !== null) inMs = Math.min(inMs, Math.max(0, dueMs - nowMs));
    } catch (error) {
      this.o.logger.warn({ err: error }, 'cannot read next due time');
    }
    this.wake(inMs);
  }
}
