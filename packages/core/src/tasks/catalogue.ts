import type { TSchema } from 'typebox';
import { withTransaction, type Pool, type PoolClient } from '../db/pool.js';
import { ENGINE_QUEUES, type QueueName } from '../broker/topology.js';
import type { TaskContract } from './define.js';

type Db = Pool | PoolClient;

/** The advisory-lock namespace ('task') that orders a task's registrations against its runs' parking. */
const TASK_LOCK_NAMESPACE = 1952543595;

/** A catalogue entry as the API lists it: the contract, and who serves it now. */
export interface CatalogueEntry extends TaskContract {
  registeredAt: string;
  updatedAt: string;
  /** Live workers that serve the task (and consume its queue). */
  liveWorkers: number;
}

interface CatalogueRow {
  name: string;
  queue: string;
  description: string;
  args_schema: TSchema;
  result_schema: TSchema | null;
  max_retries: number;
  timeout_seconds: number;
  priority: number;
  concurrency_key: string | null;
  concurrency_limit: number | null;
  rate_key: string | null;
  rate_limit: number | null;
  rate_period_ms: number | null;
  result_ttl_seconds: number | null;
  registered_at: Date;
  updated_at: Date;
}

const toContract = (r: CatalogueRow): TaskContract => ({
  name: r.name,
  queue: r.queue,
  description: r.description,
  args: r.args_schema,
  result: r.result_schema ?? undefined,
  maxRetries: r.max_retries,
  timeoutSeconds: r.timeout_seconds,
  priority: r.priority,
  ...(r.concurrency_key !== null && r.concurrency_limit !== null
    ? { concurrency: { key: r.concurrency_key, limit: r.concurrency_limit } }
    : {}),
  ...(r.rate_limit !== null && r.rate_period_ms !== null
    ? {
        rateLimit: {
          limit: r.rate_limit,
          periodSeconds: r.rate_period_ms / 1000,
          ...(r.rate_key !== null ? { key: r.rate_key } : {}),
        },
      }
    : {}),
  ...(r.result_ttl_seconds !== null ? { resultTtlSeconds: r.result_ttl_seconds } : {}),
});

/**
 * Writes contracts into the catalogue (the last writer of a name wins). Inside the caller's
 * transaction when given a client; the API calls it for the engine's and its extensions' tasks.
 */
export async function writeContracts(db: Db, contracts: readonly TaskContract[]): Promise<void> {
  if (contracts.length === 0) return;
  await db.query(
    `INSERT INTO tasks AS t (name, queue, description, args_schema, result_schema, max_retries, timeout_seconds,
                             priority, concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period_ms,
                             result_ttl_seconds)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[], $6::int[], $7::int[],
                          $8::smallint[], $9::text[], $10::int[], $11::text[], $12::int[], $13::int[],
                          $14::int[])
     ON CONFLICT (name) DO UPDATE SET
       queue = excluded.queue, description = excluded.description, args_schema = excluded.args_schema,
       result_schema = excluded.result_schema, max_retries = excluded.max_retries,
       timeout_seconds = excluded.timeout_seconds, priority = excluded.priority,
       concurrency_key = excluded.concurrency_key, concurrency_limit = excluded.concurrency_limit,
       rate_key = excluded.rate_key, rate_limit = excluded.rate_limit, rate_period_ms = excluded.rate_period_ms,
       result_ttl_seconds = excluded.result_ttl_seconds, updated_at = now()
     WHERE (t.queue, t.description, t.args_schema, t.result_schema, t.max_retries, t.timeout_seconds,
            t.priority, t.concurrency_key, t.concurrency_limit, t.rate_key, t.rate_limit, t.rate_period_ms,
            t.result_ttl_seconds)
           IS DISTINCT FROM (excluded.queue, excluded.description, excluded.args_schema,
                             excluded.result_schema, excluded.max_retries, excluded.timeout_seconds,
                             excluded.priority, excluded.concurrency_key, excluded.concurrency_limit,
                             excluded.rate_key, excluded.rate_limit, excluded.rate_period_ms,
                             excluded.result_ttl_seconds)`,
    [
      contracts.map((c) => c.name),
      contracts.map((c) => c.queue),
      contracts.map((c) => c.description),
      contracts.map((c) => JSON.stringify(c.args)),
      contracts.map((c) => (c.result === undefined ? null : JSON.stringify(c.result))),
      contracts.map((c) => c.maxRetries),
      contracts.map((c) => c.timeoutSeconds),
      contracts.map((c) => c.priority),
      contracts.map((c) => c.concurrency?.key ?? null),
      contracts.map((c) => c.concurrency?.limit ?? null),
      contracts.map((c) => c.rateLimit?.key ?? null),
      contracts.map((c) => c.rateLimit?.limit ?? null),
      contracts.map((c) => (c.rateLimit ? Math.round(c.rateLimit.periodSeconds * 1000) : null)),
      contracts.map((c) => c.resultTtlSeconds ?? null),
    ],
  );
}

/** The whole catalogue, by name (it holds one row per task name: small). */
export async function readCatalogue(db: Db): Promise<TaskContract[]> {
  const { rows } = await db.query<CatalogueRow>('SELECT * FROM tasks ORDER BY name');
  return rows.map(toContract);
}

/** The catalogue with each task's live workers, for GET /tasks. */
export async function listCatalogue(db: Db): Promise<CatalogueEntry[]> {
  const { rows } = await db.query<CatalogueRow & { live_workers: number }>(
    `SELECT t.*, (SELECT count(*) FROM workers w
                  WHERE t.name = ANY (w.tasks) AND t.queue = ANY (w.queues) AND w.stopped_at IS NULL
                    AND tickwork_worker_alive(w.id))::int AS live_workers
     FROM tasks t ORDER BY t.name`,
  );
  return rows.map((r) => ({
    ...toContract(r),
    registeredAt: r.registered_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    liveWorkers: r.live_workers,
  }));
}

/** Takes the task locks, in name order so two registrations never deadlock. */
async function lockTasks(client: PoolClient, names: readonly string[], mode: 'shared' | 'exclusive') {
  const fn = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  await client.query(
    `SELECT ${fn}($1, hashtext(name)) FROM unnest($2::text[]) AS name ORDER BY name COLLATE "C"`,
    [TASK_LOCK_NAMESPACE, [...new Set(names)]],
  );
}

export interface WorkerRegistration {
  id: string;
  hostname: string;
  pid: number;
  queues: QueueName[];
  concurrency: number;
  heartbeatIntervalMs: number;
  tasks: readonly TaskContract[];
}

/**
 * Registers a worker and the tasks it serves, in one transaction: the catalogue gets its contracts,
 * and runs that were waiting for a worker serving one of its tasks on one of its queues go back to the
 * outbox (the relay publishes them). Returns the worker's lock key (held for its lifetime as proof of
 * life). The task locks order this against parkRun: a run is never parked just after the only worker
 * that could run it registered.
 */
export async function registerWorker(
  pool: Pool,
  worker: WorkerRegistration,
): Promise<{ lockKey: number; released: number }> {
  const names = worker.tasks.map((t) => t.name);
  return withTransaction(pool, async (client) => {
    await lockTasks(client, names, 'exclusive');
    await writeContracts(client, worker.tasks);
    const { rows } = await client.query<{ lock_key: number }>(
      `INSERT INTO workers (id, hostname, pid, queues, concurrency, heartbeat_interval_ms, tasks)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING lock_key`,
      [
        worker.id,
        worker.hostname,
        worker.pid,
        worker.queues,
        worker.concurrency,
        worker.heartbeatIntervalMs,
        names,
      ],
    );
    const released = await client.query(
      `UPDATE runs SET waiting_reason = NULL, published_at = NULL
       WHERE waiting_reason IS NOT NULL AND status = 'queued' AND task = ANY ($1) AND queue = ANY ($2)`,
      [names, worker.queues],
    );
    return { lockKey: rows[0]!.lock_key, released: released.rowCount ?? 0 };
  });
}

/** What became of a delivery its worker cannot run. */
export type ParkVerdict =
  /** A live worker serves the task on that queue: hand the message back for it. */
  | 'served-elsewhere'
  /** No live worker does: the run waits in PostgreSQL with `waiting_reason`; its message can go. */
  | 'parked'
  /** The message is not its queued run's (finished, another task or queue, no such run). */
  | 'not-queued';

/**
 * For a delivery whose task this worker lacks: if another live worker serves the task on that queue,
 * says so; otherwise marks the run as waiting for one (only if the run is queued with that task and
 * queue), in one transaction under the task's lock (see registerWorker).
 */
export async function parkRun(
  pool: Pool,
  message: { runId: number; task: string; queue: QueueName },
  workerId: string,
): Promise<ParkVerdict> {
  return withTransaction(pool, async (client) => {
    await lockTasks(client, [message.task], 'shared');
    const served = await client.query(
      `SELECT 1 FROM workers w
       WHERE $1 = ANY (w.tasks) AND $2 = ANY (w.queues) AND w.id <> $3 AND w.stopped_at IS NULL
         AND tickwork_worker_alive(w.id)
       LIMIT 1`,
      [message.task, message.queue, workerId],
    );
    if (served.rowCount) return 'served-elsewhere';
    const reason = `no live worker serves task "${message.task}" on queue "${message.queue}"`;
    const parked = await client.query(
      `UPDATE runs SET waiting_reason = $4
       WHERE id = $1 AND status = 'queued' AND task = $2 AND queue = $3`,
      [message.runId, message.task, message.queue, reason],
    );
    return parked.rowCount ? 'parked' : 'not-queued';
  });
}

/** How many runs wait for a worker that serves their task (the tickwork_runs_waiting_for_worker gauge). */
export async function countWaitingRuns(db: Db): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM runs WHERE waiting_reason IS NOT NULL AND status = 'queued'`,
  );
  return rows[0]?.n ?? 0;
}

/**
 * Every queue in use: the engine's, those of catalogued tasks and those live workers consume.
 * What GET /queues and the metrics report on.
 */
export async function knownQueues(db: Db): Promise<QueueName[]> {
  const { rows } = await db.query<{ queue: QueueName }>(
    `SELECT queue FROM tasks
     UNION SELECT unnest(queues) FROM workers WHERE stopped_at IS NULL AND tickwork_worker_alive(id)
     ORDER BY 1`,
  );
  // The engine's first, in their order (default, cleanup); then the rest by name.
  return [...new Set([...ENGINE_QUEUES, ...rows.map((r) => r.queue)])];
}
