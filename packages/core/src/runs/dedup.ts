import type { PoolClient } from '../db/pool.js';
import type { RunRow } from '../db/schema.js';
import { TickworkError } from '../errors.js';
import { insertRun, type Inserted, type NewRun } from './insert.js';
import { RUN_COLUMNS } from './queries.js';

/**
 * Deduplication windows, as BullMQ's deduplication and pg-boss's singleton, throttled and debounced sends
 * offer them. A request with a dedup key is matched against the newest run of the same task with that key:
 * - reject: refused (DuplicateRunError, 409) while that run is unfinished, or was created less than
 *   ttlSeconds ago when a ttl is given;
 * - throttle: the same match answered with that run instead of an error: at most one run per window;
 * - replace: a match that has not started (scheduled, queued, waiting) takes the new request's args (and
 *   due time, when the request gives one); otherwise a new run;
 * - debounce: as replace, and its due time moves to ttlSeconds after this request: the run starts once
 *   requests stop coming for ttlSeconds. A new run is due ttlSeconds from now.
 */
export const DEDUP_MODES = ['reject', 'throttle', 'replace', 'debounce'] as const;
export type DedupMode = (typeof DEDUP_MODES)[number];

export interface Dedup {
  key: string;
  mode: DedupMode;
  /** The window; required for debounce. */
  ttlSeconds?: number;
}

/** What a deduplicated request did: made a run, or met one (returned as it is, or changed). */
export const DEDUP_OUTCOMES = ['created', 'existing', 'replaced', 'debounced'] as const;
export type DedupOutcome = (typeof DEDUP_OUTCOMES)[number];

/** A run of the task with the key is still in its window (mode reject). */
export class DuplicateRunError extends TickworkError {
  constructor(readonly run: RunRow) {
    super(
      'duplicate_run',
      `run ${run.id} of task "${run.task}" has this dedup key and is still in its window`,
    );
  }
}

/** The advisory-lock namespace ('dedu') that orders requests with the same task and dedup key. */
const DEDUP_LOCK_NAMESPACE = 1684366453;

/** Statuses of a run that has not started, whose args a replace or debounce may still change. */
const NOT_STARTED = ['scheduled', 'queued', 'waiting'];

/**
 * Accepts `run` under its dedup rule, inside the caller's transaction (the lock is held to its end).
 * Returns what was done; throws DuplicateRunError for a rejected request.
 */
export async function enqueueDeduplicated(client: PoolClient, run: NewRun, dedup: Dedup): Promise<Inserted> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
    DEDUP_LOCK_NAMESPACE,
    // A shared hash only makes two keys take turns; JSON keeps task and key apart.
    JSON.stringify([run.task, dedup.key]),
  ]);
  const ttl = dedup.ttlSeconds ?? null;
  const { rows } = await client.query<RunRow & { inWindow: boolean; notStarted: boolean }>(
    `SELECT ${RUN_COLUMNS},
            (finished_at IS NULL OR ($3::float8 IS NOT NULL AND created_at > now() - make_interval(secs => $3)))
              AS "inWindow",
            status = ANY($4) AS "notStarted"
     FROM runs WHERE task = $1 AND dedup_key = $2 ORDER BY id DESC LIMIT 1`,
    [run.task, dedup.key, ttl, NOT_STARTED],
  );
  const match = rows[0];
  const found = (row: RunRow, outcome: DedupOutcome) => ({
    run: row,
    created: false,
    keyConflict: false,
    dedup: outcome,
  });
  if (match && (dedup.mode === 'reject' || dedup.mode === 'throttle') && match.inWindow) {
    if (dedup.mode === 'reject') throw new DuplicateRunError(match);
    return found(match, 'existing');
  }
  if (match?.notStarted && (dedup.mode === 'replace' || dedup.mode === 'debounce')) {
    const changed = await replaceArgs(client, match.id, run, dedup);
    if (changed) return found(changed, dedup.mode === 'debounce' ? 'debounced' : 'replaced');
  }
  const fresh = dedup.mode === 'debounce' ? { ...run, delaySeconds: ttl ?? 0, runAt: undefined } : run;
  const inserted = await insertRun(client, fresh);
  // An idempotency key seen before: the answer is the replay's (or its conflict's), as without dedup.
  if (!inserted.created) return inserted;
  const { rows: keyed } = await client.query<RunRow>(
    `UPDATE runs SET dedup_key = $2 WHERE id = $1 RETURNING ${RUN_COLUMNS}`,
    [inserted.run.id, dedup.key],
  );
  return { ...inserted, run: keyed[0] ?? inserted.run, dedup: 'created' };
}

/**
 * Gives a run that has not started the new request's args, and for debounce a due time ttlSeconds from
 * now (a queued run has its message already: only a scheduled one can be pushed back). Undefined when the
 * run started in between (its claim won the row lock): the caller then creates a new run.
 */
async function replaceArgs(
  client: PoolClient,
  id: number,
  run: NewRun,
  dedup: Dedup,
): Promise<RunRow | undefined> {
  const argsJson = run.argsJson ?? JSON.stringify(run.args ?? null);
  const debounceSeconds = dedup.mode === 'debounce' ? (dedup.ttlSeconds ?? 0) : null;
  const { rows } = await client.query<RunRow>(
    `UPDATE runs SET args = $2::text::jsonb, args_bytes = octet_length($2::text),
       due_at = CASE WHEN status = 'scheduled' AND $3::float8 IS NOT NULL
                     THEN now() + make_interval(secs => $3::float8)
                     WHEN status = 'scheduled' AND $4::timestamptz IS NOT NULL THEN $4::timestamptz
                     WHEN status = 'scheduled' AND $6::float8 IS NOT NULL
                     THEN now() + make_interval(secs => $6::float8)
                     ELSE due_at END
     WHERE id = $1 AND status = ANY($5)
       AND ($3::float8 IS NULL OR status = 'scheduled')
     RETURNING ${RUN_COLUMNS}`,
    [id, argsJson, debounceSeconds, run.runAt ?? null, NOT_STARTED, run.delaySeconds ?? null],
  );
  return rows[0];
}
