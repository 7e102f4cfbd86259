import {
  promoteDueRuns,
  publishRuns,
  reapRunsOfDeadWorkers,
  takeUnpublishedRuns,
  withTransaction,
  type Broker,
  type Logger,
  type Pool,
} from '@tickwork/shared';
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
  batchSize?: number;
}

/**
 * Turns due rows into messages. Each tick, in transactions that commit only after RabbitMQ confirmed:
 * promotes scheduled and retrying runs whose time has come, relays queued runs nobody published, and
 * reaps runs whose worker died. Sleeps until the earliest due time, a NOTIFY, or the backstop poll.
 * Any number of replicas may run: rows are locked with SKIP LOCKED, so each is published by one.
 */
export class Dispatcher {
  private readonly listener: Listener;
  private timer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** PostgreSQL's clock minus ours, so due times from NOTIFY payloads convert to local timers. */
  private skewMs = 0;
  private readonly relayAfterMs: number;
  private readonly batchSize: number;

  constructor(private readonly o: DispatcherOptions) {
    this.relayAfterMs = o.relayAfterMs ?? 5000;
    this.batchSize = o.batchSize ?? 500;
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
    this.listener.start();
    this.wake(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
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
    const at = Date.now() + Math.max(0, inMs);
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
      .catch((error: unknown) => this.o.logger.warn({ err: error }, 'dispatch tick failed'))
      .finally(() => {
        this.ticking = undefined;
        if (this.again) {
          this.again = false;
          this.wake(0);
        }
      });
  }

  private async tick(): Promise<void> {
    try {
      await this.reap();
      if (this.o.broker.isConnected) {
        while ((await this.promote()) === this.batchSize);
        while ((await this.relay()) === this.batchSize);
      }
    } finally {
      await this.planNextTick();
    }
  }

  /** Due runs become queued (committed), then are published; a crash in between leaves them to the relay. */
  private async promote(): Promise<number> {
    const runs = await promoteDueRuns(this.o.pool, this.batchSize);
    await publishRuns(this.o, runs);
    return runs.length;
  }

  /** Publishes queued runs nobody published, committing only once RabbitMQ confirmed every one. */
  private async relay(): Promise<number> {
    return withTransaction(this.o.pool, async (client) => {
      const runs = await takeUnpublishedRuns(client, this.relayAfterMs, this.batchSize);
      await Promise.all(runs.map((r) => this.o.broker.publishTask(r.queue, { runId: r.id, task: r.task })));
      if (runs.length > 0) this.o.logger.info({ count: runs.length }, 'relayed unpublished runs');
      return runs.length;
    });
  }

  private async reap(): Promise<void> {
    const reaped = await reapRunsOfDeadWorkers(this.o.pool);
    for (const run of reaped)
      this.o.logger.warn({ runId: run.id, status: run.status }, 'reaped run of a dead worker');
  }

  private async planNextTick(): Promise<void> {
    let inMs = this.o.pollMs;
    try {
      const { rows } = await this.o.pool.query<{ now_ms: number; due_ms: number | null }>(
        `SELECT (extract(epoch FROM now()) * 1000)::float8 AS now_ms,
                (extract(epoch FROM min(due_at)) * 1000)::float8 AS due_ms
         FROM runs WHERE status IN ('scheduled', 'retrying')`,
      );
      const row = rows[0];
      if (row) {
        this.skewMs = row.now_ms - Date.now();
        if (row.due_ms !== null) inMs = Math.min(inMs, Math.max(0, row.due_ms - row.now_ms));
      }
    } catch (error) {
      this.o.logger.warn({ err: error }, 'cannot read next due time');
    }
    this.wake(inMs);
  }
}
