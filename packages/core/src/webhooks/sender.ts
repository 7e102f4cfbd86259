import { retryDelayMs } from '../backoff.js';
import type { WebhookConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../logger.js';
import { metrics } from '../metrics.js';
import { postWebhook, type PostOutcome } from './http.js';
import { webhookSignature } from './signature.js';

/** A delivery a sender holds the lease of, with what it needs to send it. */
export interface ClaimedDelivery {
  id: number;
  webhookId: number;
  eventType: string;
  /** The payload as stored: the same bytes on every attempt. */
  body: string;
  /** This attempt's number: also the lease's token (a re-claim by another sender increments it). */
  attempts: number;
  url: string;
  secret: string;
}

/** How long past its timeout an attempt keeps its lease: time to store its outcome. */
const LEASE_MARGIN_MS = 10_000;

/**
 * Takes up to `limit` due deliveries of enabled webhooks, each under a lease of `leaseMs`: rows are
 * locked with SKIP LOCKED, so two senders never take one, and a leased one is not due until its lease
 * ends. A delivery whose earlier lease ran out (its sender stopped mid-attempt) gets that attempt
 * recorded as lost before its next one starts.
 */
export async function claimDueDeliveries(
  pool: Pool,
  limit: number,
  leaseMs: number,
): Promise<ClaimedDelivery[]> {
  const { rows } = await pool.query<ClaimedDelivery>(
    `WITH due AS (
       SELECT d.id, d.leased_until IS NOT NULL AS lost
       FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
       WHERE d.status = 'pending' AND d.next_attempt_at <= now()
         AND (d.leased_until IS NULL OR d.leased_until <= now()) AND w.enabled
       ORDER BY d.next_attempt_at, d.id LIMIT $1
       FOR UPDATE OF d SKIP LOCKED),
     lost AS (
       INSERT INTO webhook_delivery_attempts (delivery_id, attempt, error)
       SELECT d.id, d.attempts, 'no outcome: the scheduler sending it stopped during the attempt (its lease ran out)'
       FROM webhook_deliveries d JOIN due ON due.id = d.id WHERE due.lost),
     claimed AS (
       UPDATE webhook_deliveries d SET attempts = d.attempts + 1, updated_at = now(),
         leased_until = now() + $2::double precision * interval '1 millisecond'
       FROM due WHERE d.id = due.id
       RETURNING d.id, d.webhook_id, d.event_type, d.payload, d.attempts)
     SELECT c.id, c.webhook_id AS "webhookId", c.event_type AS "eventType", c.payload::text AS body,
            c.attempts, w.url, w.secret
     FROM claimed c JOIN webhooks w ON w.id = c.webhook_id ORDER BY c.id`,
    [limit, leaseMs],
  );
  return rows;
}

export type AttemptResult = 'delivered' | 'retrying' | 'failed';

/**
 * Stores an attempt's outcome and ends its lease: delivered, failed after the last attempt, else due
 * again after `retryInMs`. Undefined when the lease was lost meanwhile (another sender took the
 * delivery after it ran out, or the webhook was deleted): that sender's attempt counts instead.
 */
export async function recordAttempt(
  pool: Pool,
  d: ClaimedDelivery,
  outcome: PostOutcome,
  at: Date,
  maxAttempts: number,
  retryInMs: number,
): Promise<AttemptResult | undefined> {
  const { rows } = await pool.query<{ status: 'delivered' | 'pending' | 'failed' }>(
    `WITH done AS (
       UPDATE webhook_deliveries SET
         status = CASE WHEN $3 THEN 'delivered' WHEN attempts >= $4 THEN 'failed' ELSE 'pending' END,
         next_attempt_at = CASE WHEN $3 OR attempts >= $4 THEN next_attempt_at
                                ELSE now() + $5::double precision * interval '1 millisecond' END,
         delivered_at = CASE WHEN $3 THEN now() ELSE delivered_at END,
         leased_until = NULL, last_status_code = $6, last_error = $7, updated_at = now()
       WHERE id = $1 AND attempts = $2 AND leased_until IS NOT NULL
       RETURNING id, status),
     logged AS (
       INSERT INTO webhook_delivery_attempts (delivery_id, attempt, at, status_code, error, duration_ms)
       SELECT id, $2, $8, $6, $7, $9 FROM done)
     SELECT status FROM done`,
    [
      d.id,
      d.attempts,
      outcome.delivered,
      maxAttempts,
      retryInMs,
      outcome.statusCode,
      outcome.error,
      at,
      outcome.durationMs,
    ],
  );
  const status = rows[0]?.status;
  return status === undefined ? undefined : status === 'pending' ? 'retrying' : status;
}

/** Pending deliveries of all webhooks (the metrics gauge). */
export async function countPendingDeliveries(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'pending'`,
  );
  return rows[0]?.n ?? 0;
}

/** Deletes delivered and failed deliveries (and their attempts) untouched for `days`, in batches. */
export async function deleteFinishedDeliveries(pool: Pool, days: number, batchSize = 5000): Promise<number> {
  let deleted = 0;
  for (;;) {
    const { rowCount } = await pool.query(
      `DELETE FROM webhook_deliveries WHERE id IN (
         SELECT id FROM webhook_deliveries WHERE status <> 'pending'
           AND updated_at < now() - make_interval(days => $1) LIMIT $2)`,
      [days, batchSize],
    );
    deleted += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) return deleted;
  }
}

export interface WebhookSenderOptions {
  pool: Pool;
  logger: Logger;
  config: WebhookConfig;
  /** Called when an attempt ends (a slot frees up): the owner may claim more. */
  onAttemptEnd?: () => void;
}

/**
 * Sends due deliveries, at most `config.concurrency` at once: each claimed under a lease, POSTed with
 * its signature (a fresh timestamp per attempt), its outcome stored as an attempt. Retries back off
 * exponentially with jitter (WEBHOOK_BACKOFF_*; a 429's or 503's Retry-After is honoured up to the
 * maximum), and a delivery fails after WEBHOOK_MAX_ATTEMPTS.
 */
export class WebhookSender {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly leaseMs: number;

  constructor(private readonly o: WebhookSenderOptions) {
    this.leaseMs = o.config.timeoutMs + LEASE_MARGIN_MS;
  }

  /** Attempts in flight now. */
  get busy(): number {
    return this.inFlight.size;
  }

  /** Claims as many due deliveries as there are free slots and starts them; resolves to how many. */
  async sendDue(): Promise<number> {
    const free = this.o.config.concurrency - this.inFlight.size;
    if (free <= 0) return 0;
    const claimed = await claimDueDeliveries(this.o.pool, free, this.leaseMs);
    for (const delivery of claimed) {
      const attempt: Promise<void> = this.attempt(delivery)
        .catch((error: unknown) =>
          this.o.logger.error({ err: error, deliveryId: delivery.id }, 'webhook attempt failed'),
        )
        .finally(() => {
          this.inFlight.delete(attempt);
          this.o.onAttemptEnd?.();
        });
      this.inFlight.add(attempt);
    }
    return claimed.length;
  }

  /** Resolves when every attempt in flight has ended (each is bounded by WEBHOOK_TIMEOUT_MS). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private async attempt(d: ClaimedDelivery): Promise<void> {
    const { config, logger } = this.o;
    const at = new Date();
    const outcome = await postWebhook({
      url: d.url,
      body: d.body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Tickwork-Webhooks/1',
        'tickwork-event': d.eventType,
        'tickwork-delivery': String(d.id),
        'tickwork-attempt': String(d.attempts),
        'tickwork-signature': webhookSignature(d.secret, Math.floor(at.getTime() / 1000), d.body),
      },
      timeoutMs: config.timeoutMs,
      allowPrivateNetworks: config.allowPrivateNetworks,
    });
    const backoff = retryDelayMs(d.attempts, config.backoffBaseMs, config.backoffMaxMs);
    const retryInMs = Math.max(backoff, Math.min(outcome.retryAfterMs ?? 0, config.backoffMaxMs));
    try {
      const result = await recordAttempt(this.o.pool, d, outcome, at, config.maxAttempts, retryInMs);
      if (result === undefined) {
        logger.warn(
          { deliveryId: d.id, attempt: d.attempts },
          'webhook delivery lease lost (taken over after it ran out, or the webhook was deleted); outcome dropped',
        );
        return;
      }
      metrics.webhookAttempt(result, outcome.durationMs / 1000);
      const fields = {
        deliveryId: d.id,
        webhookId: d.webhookId,
        attempt: d.attempts,
        status: outcome.statusCode,
      };
      if (result === 'failed')
        logger.warn({ ...fields, error: outcome.error }, 'webhook delivery failed for good');
      else if (result === 'retrying')
        logger.info(
          { ...fields, error: outcome.error, retryInMs },
          'webhook delivery attempt failed; retrying',
        );
    } catch (error) {
      // Its lease runs out and another attempt follows: at least once, never lost.
      logger.warn(
        { err: error, deliveryId: d.id },
        'cannot store a webhook attempt; it is retried after its lease',
      );
    }
  }
}
