import Type, { type Static } from 'typebox';
import type { Pool, PoolClient } from '../db/pool.js';
import type { RunRow } from '../db/schema.js';
import { Nullable, Timestamp } from '../schema-parts.js';
import { RunErrorSchema } from './run.js';

/** How an attempt ended, or `running` while it runs. */
export const ATTEMPT_OUTCOMES = ['running', 'succeeded', 'failed', 'cancelled', 'released'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** One attempt of a run, as the API shows it (`$id` Attempt). */
export const AttemptSchema = Type.Object(
  {
    attempt: Type.Integer({ description: 'Its number: 1 for the first attempt' }),
    outcome: Type.Enum(ATTEMPT_OUTCOMES, {
      description:
        'running; succeeded; failed (it threw, timed out or its worker was lost: see error); cancelled; released (a stopping worker handed it back to the queue)',
    }),
    workerId: Nullable(Type.String()),
    startedAt: Nullable(Timestamp),
    finishedAt: Nullable(Timestamp),
    error: Nullable(RunErrorSchema),
  },
  { $id: 'Attempt' },
);
export type Attempt = Static<typeof AttemptSchema>;

/** Most attempts one answer lists: a run retried by hand again and again keeps every attempt. */
export const MAX_LISTED_ATTEMPTS = 100;

/**
 * A run's attempts, oldest first: those that ended without success (run_attempts, written by migration
 * 0006's trigger), then the latest one from the run row itself while it runs or once it succeeded.
 * Only the latest MAX_LISTED_ATTEMPTS.
 */
export async function listAttempts(db: Pool | PoolClient, run: RunRow): Promise<Attempt[]> {
  const { rows } = await db.query<
    Omit<Attempt, 'startedAt' | 'finishedAt'> & { startedAt: Date | null; finishedAt: Date }
  >(
    `SELECT * FROM (
       SELECT attempt, outcome, worker_id AS "workerId", started_at AS "startedAt",
              finished_at AS "finishedAt", error
       FROM run_attempts WHERE run_id = $1 ORDER BY attempt DESC LIMIT $2) AS latest
     ORDER BY attempt`,
    [run.id, MAX_LISTED_ATTEMPTS],
  );
  const attempts: Attempt[] = rows.map((row) => ({
    ...row,
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt.toISOString(),
  }));
  const latestEnded = attempts.at(-1)?.attempt ?? 0;
  if ((run.status === 'running' || run.status === 'succeeded') && run.attempts > latestEnded) {
    attempts.push({
      attempt: run.attempts,
      outcome: run.status === 'running' ? 'running' : 'succeeded',
      workerId: run.workerId,
      startedAt: run.startedAt?.toISOString() ?? null,
      finishedAt: run.status === 'succeeded' ? (run.finishedAt?.toISOString() ?? null) : null,
      error: null,
    });
  }
  return attempts.slice(-MAX_LISTED_ATTEMPTS);
}
