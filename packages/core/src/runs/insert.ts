import type { Pool, PoolClient } from '../db/pool.js';
import type { RunRow } from '../db/schema.js';
import { requestFingerprint } from './fingerprint.js';
import type { Dedup, DedupOutcome } from './dedup.js';
import { FLOW_COLUMNS, flowValues } from './flow.js';
import { RUN_COLUMNS } from './queries.js';

type Db = Pool | PoolClient;

export interface NewRun {
  task: string;
  args: unknown;
  /** The args' JSON text when the caller has it already (it measured them): stored as is. */
  argsJson?: string;
  queue: string;
  maxRetries: number;
  timeoutSeconds: number;
  /** Seconds from now (database time); ignored when `runAt` is given. */
  delaySeconds?: number;
  runAt?: Date;
  idempotencyKey?: string;
  scheduleId?: number;
  scheduledFor?: Date;
  /** 0 to 10; the task's priority when not given. */
  priority?: number;
  /** A concurrency key and limit of this run's own, in place of its task's. */
  concurrency?: { key: string; limit: number };
  /** A deduplication window (dedup.ts): such a run is accepted in a transaction of its own. */
  dedup?: Dedup;
  /** Seconds it is kept once finished, in place of its task's TTL or RUN_RETENTION_DAYS (0014). */
  resultTtlSeconds?: number;
  /** The workflow it belongs to (workflows/create.ts). */
  workflowId?: number;
  /**
   * How many runs it waits for: it is inserted `blocked`, and its caller inserts the edges
   * (run_dependencies) in the same transaction.
   */
  parents?: number;
}

export interface Inserted {
  run: RunRow;
  /** False when the idempotency key was seen before: `run` is then the first run with that key. */
  created: boolean;
  /**
   * The key was seen before with a different request (task, args, queue or options): a conflict to
   * report, not a replay. `run` is the first run with that key, and nothing was inserted.
   */
  keyConflict: boolean;
  /** For a request with a dedup key: what it did (dedup.ts). */
  dedup?: DedupOutcome;
}

/**
 * Accepts runs in one statement: each `queued` when due now, `scheduled` when due later, `blocked`
 * while it waits for `parents` runs. Rows are
 * inserted in input order (ORDER BY the ordinal), so identity ids ascend with it: sorting the returned
 * rows by id pairs them with their inputs. An input whose idempotency key exists (in the table, or
 * earlier in the batch) inserts nothing and gets the first run with that key, flagged as a conflict
 * when that run was accepted for a different request.
 */
export async function insertRuns(db: Db, runs: readonly NewRun[]): Promise<Inserted[]> {
  if (runs.length === 0) return [];
  const column = <T>(pick: (run: NewRun) => T) => runs.map(pick);
  const fingerprints = runs.map((r) => (r.idempotencyKey === undefined ? null : requestFingerprint(r)));
  const { rows } = await db.query<RunRow>({
    name: 'tickwork-insert-runs',
    text: `WITH input AS (
       SELECT i.*, COALESCE(i.run_at, now() + make_interval(secs => i.delay_seconds)) AS due
       FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::timestamptz[],
                   $7::float8[], $8::text[], $9::bigint[], $10::timestamptz[], $11::bytea[],
                   $12::smallint[], $13::text[], $14::int[], $15::bigint[], $16::int[],
                   $17::int[])
            WITH ORDINALITY AS i(task, args, queue, max_retries, timeout_seconds, run_at, delay_seconds,
                                 idempotency_key, schedule_id, scheduled_for, fingerprint, priority,
                                 concurrency_key, concurrency_limit, workflow_id, parents,
                                 result_ttl_seconds, ord))
     INSERT INTO runs (task, args, args_bytes, queue, max_retries, timeout_seconds, idempotency_key,
                       idempotency_fingerprint, schedule_id, scheduled_for, due_at, status, queued_at,
                       workflow_id, parents_pending, ${FLOW_COLUMNS})
     SELECT i.task, i.args::jsonb, octet_length(i.args), i.queue, i.max_retries, i.timeout_seconds,
            i.idempotency_key, i.fingerprint, i.schedule_id, i.scheduled_for, i.due,
            CASE WHEN i.parents > 0 THEN 'blocked' WHEN i.due <= now() THEN 'queued' ELSE 'scheduled' END,
            CASE WHEN i.parents = 0 AND i.due <= now() THEN now() END,
            i.workflow_id, NULLIF(i.parents, 0),
            ${flowValues('i', true)}
     FROM input i LEFT JOIN tasks t ON t.name = i.task
     ORDER BY i.ord
     ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING ${RUN_COLUMNS}`,
    values: [
      column((r) => r.task),
      column((r) => r.argsJson ?? JSON.stringify(r.args ?? null)),
      column((r) => r.queue),
      column((r) => r.maxRetries),
      column((r) => r.timeoutSeconds),
      column((r) => r.runAt ?? null),
      column((r) => r.delaySeconds ?? 0),
      column((r) => r.idempotencyKey ?? null),
      column((r) => r.scheduleId ?? null),
      column((r) => r.scheduledFor ?? null),
      fingerprints,
      column((r) => r.priority ?? null),
      column((r) => r.concurrency?.key ?? null),
      column((r) => r.concurrency?.limit ?? null),
      column((r) => r.workflowId ?? null),
      column((r) => r.parents ?? 0),
      column((r) => r.resultTtlSeconds ?? null),
    ],
  });
  rows.sort((a, b) => a.id - b.id);
  const results: Array<Inserted | { key: string; fingerprint: Buffer }> = [];
  let next = 0;
  for (const [i, input] of runs.entries()) {
    const row = rows[next];
    const fingerprint = fingerprints[i];
    if (row && (input.idempotencyKey === undefined || row.idempotencyKey === input.idempotencyKey)) {
      results.push({ run: row, created: true, keyConflict: false });
      next++;
    } else if (input.idempotencyKey !== undefined && fingerprint) {
      results.push({ key: input.idempotencyKey, fingerprint });
    } else throw new Error('inserted runs do not line up with their inputs');
  }
  return resolveReplays(db, runs, results);
}

/**
 * Fills in the first run of each replayed idempotency key. A first run deleted in between (retention)
 * leaves the key free: those inputs are inserted again.
 */
async function resolveReplays(
  db: Db,
  runs: readonly NewRun[],
  results: Array<Inserted | { key: string; fingerprint: Buffer }>,
): Promise<Inserted[]> {
  const keys = results.flatMap((r) => ('key' in r ? [r.key] : []));
  if (keys.length === 0) return results as Inserted[];
  const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE idempotency_key = ANY($1)`, [
    keys,
  ]);
  const byKey = new Map(rows.map((row) => [row.idempotencyKey, row]));
  const gone = runs.filter((_, i) => {
    const r = results[i];
    return r !== undefined && 'key' in r && !byKey.has(r.key);
  });
  const again = gone.length > 0 ? await insertRuns(db, gone) : [];
  return results.map((r) => {
    if (!('key' in r)) return r;
    const first = byKey.get(r.key);
    if (!first) return again.shift()!;
    // Runs accepted before fingerprints existed (migration 0007) replay for any request, as they did.
    const known = first.idempotencyFingerprint;
    return { run: first, created: false, keyConflict: known !== null && !known.equals(r.fingerprint) };
  });
}

export async function insertRun(db: Db, run: NewRun): Promise<Inserted> {
  const [inserted] = await insertRuns(db, [run]);
  if (!inserted) throw new Error('insertRuns returned nothing');
  return inserted;
}
