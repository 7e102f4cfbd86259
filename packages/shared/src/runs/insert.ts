import type { Pool, PoolClient } from '../db/pool.js';
import type { RunRow } from '../db/schema.js';
import { RUN_COLUMNS } from './queries.js';

type Db = Pool | PoolClient;

export interface NewRun {
  task: string;
  args: unknown;
  queue: string;
  maxRetries: number;
  timeoutSeconds: number;
  /** Seconds from now (database time); ignored when `runAt` is given. */
  delaySeconds?: number;
  runAt?: Date;
  idempotencyKey?: string;
  scheduleId?: number;
  scheduledFor?: Date;
}

export interface Inserted {
  run: RunRow;
  /** False when the idempotency key was seen before: `run` is then the first run with that key. */
  created: boolean;
}

/**
 * Accepts runs in one statement: each `queued` when due now, `scheduled` when due later. Rows are
 * inserted in input order (ORDER BY the ordinal), so identity ids ascend with it: sorting the returned
 * rows by id pairs them with their inputs. An input whose idempotency key exists (in the table, or
 * earlier in the batch) inserts nothing and gets the first run with that key.
 */
export async function insertRuns(db: Db, runs: readonly NewRun[]): Promise<Inserted[]> {
  if (runs.length === 0) return [];
  const column = <T>(pick: (run: NewRun) => T) => runs.map(pick);
  const { rows } = await db.query<RunRow>({
    name: 'tickwork-insert-runs',
    text: `WITH input AS (
       SELECT i.*, COALESCE(i.run_at, now() + make_interval(secs => i.delay_seconds)) AS due
       FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::timestamptz[],
                   $7::float8[], $8::text[], $9::bigint[], $10::timestamptz[])
            WITH ORDINALITY AS i(task, args, queue, max_retries, timeout_seconds, run_at, delay_seconds,
                                 idempotency_key, schedule_id, scheduled_for, ord))
     INSERT INTO runs (task, args, queue, max_retries, timeout_seconds, idempotency_key, schedule_id,
                       scheduled_for, due_at, status, queued_at)
     SELECT task, args::jsonb, queue, max_retries, timeout_seconds, idempotency_key, schedule_id,
            scheduled_for, due, CASE WHEN due <= now() THEN 'queued' ELSE 'scheduled' END,
            CASE WHEN due <= now() THEN now() END
     FROM input ORDER BY ord
     ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING ${RUN_COLUMNS}`,
    values: [
      column((r) => r.task),
      column((r) => JSON.stringify(r.args ?? null)),
      column((r) => r.queue),
      column((r) => r.maxRetries),
      column((r) => r.timeoutSeconds),
      column((r) => r.runAt ?? null),
      column((r) => r.delaySeconds ?? 0),
      column((r) => r.idempotencyKey ?? null),
      column((r) => r.scheduleId ?? null),
      column((r) => r.scheduledFor ?? null),
    ],
  });
  rows.sort((a, b) => a.id - b.id);
  const results: Array<Inserted | string> = [];
  let next = 0;
  for (const input of runs) {
    const row = rows[next];
    if (row && (input.idempotencyKey === undefined || row.idempotencyKey === input.idempotencyKey)) {
      results.push({ run: row, created: true });
      next++;
    } else if (input.idempotencyKey !== undefined) results.push(input.idempotencyKey);
    else throw new Error('inserted runs do not line up with their inputs');
  }
  return resolveReplays(db, results);
}

/** Fills in the first run of each replayed idempotency key. */
async function resolveReplays(db: Db, results: Array<Inserted | string>): Promise<Inserted[]> {
  const keys = results.filter((r): r is string => typeof r === 'string');
  if (keys.length === 0) return results as Inserted[];
  const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE idempotency_key = ANY($1)`, [
    keys,
  ]);
  const byKey = new Map(rows.map((row) => [row.idempotencyKey, row]));
  return results.map((r) => {
    if (typeof r !== 'string') return r;
    const first = byKey.get(r);
    if (!first) throw new Error(`idempotency key conflict without a run (key ${r})`);
    return { run: first, created: false };
  });
}

export async function insertRun(db: Db, run: NewRun): Promise<Inserted> {
  const [inserted] = await insertRuns(db, [run]);
  if (!inserted) throw new Error('insertRuns returned nothing');
  return inserted;
}
