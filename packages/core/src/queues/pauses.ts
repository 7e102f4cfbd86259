import type { QueueName } from '../broker/topology.js';
import type { Pool, PoolClient } from '../db/pool.js';
import { knownQueues } from '../tasks/catalogue.js';

/**
 * Paused queues (table queue_pauses, migration 0011). A paused queue's runs stay queued and their
 * messages wait in RabbitMQ: the claim refuses them (claimRuns), workers stop consuming the queue (a
 * control message, and their heartbeat as a backstop) and hand back what they had prefetched.
 */

type Db = Pool | PoolClient;

/** A queue's pause state as the API shows it. */
export interface QueuePauseState {
  name: QueueName;
  paused: boolean;
  /** Since when it is paused; null when it is not. */
  pausedAt: string | null;
}

const toState = (name: QueueName, pausedAt: Date | undefined): QueuePauseState => ({
  name,
  paused: pausedAt !== undefined,
  pausedAt: pausedAt?.toISOString() ?? null,
});

/**
 * Pauses a queue. Idempotent: pausing a paused queue keeps its first pausedAt. `changed` is false when
 * it was paused already.
 */
export async function pauseQueue(db: Db, queue: QueueName): Promise<QueuePauseState & { changed: boolean }> {
  // DO UPDATE (to itself) rather than DO NOTHING, so the row comes back either way; xmax = 0 marks an insert.
  const { rows } = await db.query<{ paused_at: Date; inserted: boolean }>(
    `INSERT INTO queue_pauses (queue) VALUES ($1)
     ON CONFLICT (queue) DO UPDATE SET paused_at = queue_pauses.paused_at
     RETURNING paused_at, (xmax = 0) AS inserted`,
    [queue],
  );
  const row = rows[0];
  if (!row) throw new Error(`pausing queue "${queue}" returned no row`);
  return { ...toState(queue, row.paused_at), changed: row.inserted };
}

/** Resumes a queue. Idempotent: `changed` is false when it was not paused. */
export async function resumeQueue(db: Db, queue: QueueName): Promise<QueuePauseState & { changed: boolean }> {
  const { rowCount } = await db.query('DELETE FROM queue_pauses WHERE queue = $1', [queue]);
  return { ...toState(queue, undefined), changed: (rowCount ?? 0) > 0 };
}

/** Every paused queue and since when: a few rows at most, read by each worker's heartbeat. */
export async function pausedQueues(db: Db): Promise<Map<QueueName, Date>> {
  const { rows } = await db.query<{ queue: QueueName; paused_at: Date }>(
    'SELECT queue, paused_at FROM queue_pauses',
  );
  return new Map(rows.map((r) => [r.queue, r.paused_at]));
}

export async function isQueuePaused(db: Db, queue: QueueName): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM queue_pauses WHERE queue = $1', [queue]);
  return (rowCount ?? 0) > 0;
}

/**
 * The pause state of every queue in use (knownQueues) and of every paused queue, in knownQueues' order
 * with paused queues nobody uses last: what GET /queues and the tickwork_queue_paused gauge report.
 */
export async function queuePauseStates(db: Db): Promise<QueuePauseState[]> {
  const [known, paused] = await Promise.all([knownQueues(db), pausedQueues(db)]);
  const names = [...new Set([...known, ...[...paused.keys()].sort()])];
  return names.map((name) => toState(name, paused.get(name)));
}
