import {
  countPendingDeliveries,
  deleteFinishedDeliveries,
  matchWebhookEvents,
  metrics,
  RELAY_BATCH_SIZE,
  WebhookSender,
  type Logger,
  type Pool,
  type WebhookConfig,
} from '@tickwork/core';

export interface WebhookServiceOptions {
  pool: Pool;
  logger: Logger;
  config: WebhookConfig;
  /** Delivered and failed deliveries are deleted this many days after their last attempt (RUN_RETENTION_DAYS). */
  retentionDays: number;
}

/** How often the pending-deliveries gauge is refreshed, and finished deliveries past retention deleted. */
const GAUGE_EVERY_MS = 5000;
const HOUSEKEEPING_EVERY_MS = 3_600_000;
const FAILED_TICK_PAUSE_MS = 5000;

/**
 * The scheduler's webhook loop, every WEBHOOK_POLL_MS: the relay matches new events to webhooks (one
 * replica at a time, through its cursor's row lock), then the sender claims due deliveries into its
 * free slots. A finished attempt wakes the loop at once when more are due. Nothing here touches a
 * worker's path: workers only write runs, whose triggers write the events.
 */
export class WebhookService {
  private readonly sender: WebhookSender;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private gaugeAt = -Infinity;
  private housekeepingAt = -Infinity;
  private relayedAt = -Infinity;

  constructor(private readonly o: WebhookServiceOptions) {
    this.sender = new WebhookSender({
      pool: o.pool,
      logger: o.logger,
      config: o.config,
      // A slot came free: more due deliveries may be waiting for it.
      onAttemptEnd: () => this.wake(0),
    });
  }

  start(): void {
    this.wake(0);
  }

  /** Stops polling and waits for the attempts in flight (each bounded by WEBHOOK_TIMEOUT_MS). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    await this.sender.drain();
  }

  private wake(inMs: number): void {
    if (this.stopped) return;
    if (this.ticking) {
      if (inMs === 0) this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.runTick(), inMs);
  }

  private runTick(): void {
    let failed = false;
    this.ticking = this.tick()
      .catch((error: unknown) => {
        failed = true;
        this.o.logger.warn({ err: error }, 'webhook tick failed; retrying shortly');
      })
      .finally(() => {
        this.ticking = undefined;
        const again = this.again && !failed;
        this.again = false;
        // After a failure (PostgreSQL away), not every poll: a warning every few seconds is enough.
        this.wake(
          again ? 0 : failed ? Math.max(this.o.config.pollMs, FAILED_TICK_PAUSE_MS) : this.o.config.pollMs,
        );
      });
  }

  private async tick(): Promise<void> {
    // Matching runs once a poll; a tick woken by an attempt's end only fills the freed slot.
    if (Date.now() - this.relayedAt >= this.o.config.pollMs) {
      this.relayedAt = Date.now();
      for (;;) {
        const step = await matchWebhookEvents(this.o.pool);
        if (step.busy || step.events < RELAY_BATCH_SIZE) break;
      }
    }
    // Fill the free slots; a full claim means more may be due.
    while (
      !this.stopped &&
      (await this.sender.sendDue()) > 0 &&
      this.sender.busy < this.o.config.concurrency
    );
    await this.housekeeping();
  }

  private async housekeeping(): Promise<void> {
    const now = Date.now();
    if (now - this.gaugeAt >= GAUGE_EVERY_MS) {
      this.gaugeAt = now;
      metrics.webhooksPending(await countPendingDeliveries(this.o.pool));
    }
    if (now - this.housekeepingAt >= HOUSEKEEPING_EVERY_MS) {
      this.housekeepingAt = now;
      const deleted = await deleteFinishedDeliveries(this.o.pool, this.o.retentionDays);
      if (deleted > 0) this.o.logger.info({ deleted }, 'deleted finished webhook deliveries past retention');
    }
  }
}
