import type { Pool } from '../db/pool.js';

/** The advisory-lock namespace ('tick') under which each live worker holds its lock_key. */
export const WORKER_LOCK_NAMESPACE = 1952539499;

export async function heartbeat(db: Pool, workerId: string): Promise<void> {
  await db.query('UPDATE workers SET last_heartbeat_at = now() WHERE id = $1', [workerId]);
}

/** Workers alive (holding their presence lock or heartbeating). */
export async function countLiveWorkers(db: Pool): Promise<number> {
  const { rows } = await db.query<{ alive: number }>(
    'SELECT count(*)::int AS alive FROM workers WHERE stopped_at IS NULL AND tickwork_worker_alive(id)',
  );
  return rows[0]?.alive ?? 0;
}

export async function markWorkerStopped(db: Pool, workerId: string): Promise<void> {
  await db.query('UPDATE workers SET stopped_at = now() WHERE id = $1', [workerId]);
}

export interface WorkerStatus {
  id: string;
  hostname: string;
  pid: number;
  queues: string[];
  /** The tasks it serves. */
  tasks: string[];
  concurrency: number;
  startedAt: string;
  lastHeartbeatAt: string;
  stoppedAt: string | null;
  alive: boolean;
  runningRuns: number;
}

/** Workers seen in the last day, live ones first. */
export async function listWorkers(db: Pool): Promise<WorkerStatus[]> {
  const { rows } = await db.query<{
    id: string;
    hostname: string;
    pid: number;
    queues: string[];
    tasks: string[];
    concurrency: number;
    started_at: Date;
    last_heartbeat_at: Date;
    stopped_at: Date | null;
    alive: boolean;
    running_runs: number;
  }>(
    `SELECT w.*, tickwork_worker_alive(w.id) AS alive,
            (SELECT count(*) FROM runs r WHERE r.status = 'running' AND r.worker_id = w.id)::int AS running_runs
     FROM workers w
     WHERE w.stopped_at IS NULL OR w.stopped_at > now() - interval '1 day'
     ORDER BY alive DESC, w.started_at DESC
     LIMIT 500`,
  );
  return rows.map((w) => ({
    id: w.id,
    hostname: w.hostname,
    pid: w.pid,
    queues: w.queues,
    tasks: w.tasks,
    concurrency: w.concurrency,
    startedAt: w.started_at.toISOString(),
    lastHeartbeatAt: w.last_heartbeat_at.toISOString(),
    stoppedAt: w.stopped_at?.toISOString() ?? null,
    alive: w.alive,
    runningRuns: w.running_runs,
  }));
}
