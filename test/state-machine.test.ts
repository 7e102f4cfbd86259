import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cancelRun,
  claimRun,
  getRun,
  insertRun,
  recordCancelled,
  recordFailure,
  recordSuccess,
  releaseRun,
  retryDelayMs,
  retryRunManually,
  RUN_STATUSES,
  TRANSITIONS,
  type RunStatus,
} from '@tickwork/core';
import { createTestEnv, type TestEnv } from './support/env.js';

let env: TestEnv;
const WORKER = '00000000-0000-4000-8000-000000000001';

beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

/** A run forced into `status` (bypassing the state machine, to set up each case). */
async function runIn(status: RunStatus): Promise<number> {
  const { run } = await insertRun(env.pool, {
    task: 'diag.echo',
    args: {},
    queue: 'default',
    maxRetries: 3,
    timeoutSeconds: 60,
  });
  await env.pool.query(`UPDATE runs SET status = $2, worker_id = $3, attempts = 1 WHERE id = $1`, [
    run.id,
    status,
    WORKER,
  ]);
  return run.id;
}

const statusOf = async (id: number) => (await getRun(env.pool, id))!.status;
const ref = (runId: number) => ({ runId, workerId: WORKER, attempt: 1 });
const error = { type: 'Error', message: 'boom' };
/** The message of a run made by runIn. */
const message = (runId: number) => ({ runId, task: 'diag.echo', queue: 'default' });

describe('the run state machine, as enforced by SQL', () => {
  it('lists only known statuses', () => {
    for (const t of Object.values(TRANSITIONS)) {
      for (const s of [...t.from, ...t.to]) expect(RUN_STATUSES).toContain(s);
    }
  });

  // For each statement: the statuses it may start from; every other status must be left untouched.
  const cases: Array<
    [string, readonly RunStatus[], (id: number) => Promise<unknown>, RunStatus | 'unchanged']
  > = [
    ['claim', TRANSITIONS.claim.from, (id) => claimRun(env.pool, message(id), WORKER), 'running'],
    ['succeed', TRANSITIONS.succeed.from, (id) => recordSuccess(env.pool, ref(id), 1), 'succeeded'],
    [
      'fail for good',
      TRANSITIONS.failAttempt.from,
      (id) => recordFailure(env.pool, ref(id), error, undefined),
      'failed',
    ],
    [
      'fail and retry',
      TRANSITIONS.failAttempt.from,
      (id) => recordFailure(env.pool, ref(id), error, 1000),
      'retrying',
    ],
    [
      'abort on cancel',
      TRANSITIONS.abortCancelled.from,
      (id) => recordCancelled(env.pool, ref(id)),
      'cancelled',
    ],
    ['release', TRANSITIONS.release.from, (id) => releaseRun(env.pool, ref(id)), 'queued'],
    ['cancel', TRANSITIONS.cancel.from, (id) => cancelRun(env.pool, id), 'cancelled'],
    ['retry manually', TRANSITIONS.retryManually.from, (id) => retryRunManually(env.pool, id), 'queued'],
  ];

  for (const [name, from, apply, to] of cases) {
    it(`${name}: moves ${from.join('/')} to ${to} and nothing else`, async () => {
      for (const status of RUN_STATUSES) {
        const id = await runIn(status);
        await apply(id);
        const expected = from.includes(status) ? to : status;
        expect({ from: status, now: await statusOf(id) }).toEqual({ from: status, now: expected });
      }
    });
  }

  it('a running run asked to cancel keeps running until its worker stops it', async () => {
    const id = await runIn('running');
    const run = await cancelRun(env.pool, id);
    expect(run?.status).toBe('running');
    expect(run?.cancelRequestedAt).toBeInstanceOf(Date);
  });

  it('ignores the outcome of an attempt that no longer owns the run', async () => {
    const id = await runIn('running');
    expect(await recordSuccess(env.pool, { runId: id, workerId: WORKER, attempt: 2 }, 1)).toBe(false);
    expect(
      await recordSuccess(
        env.pool,
        { runId: id, workerId: '00000000-0000-4000-8000-000000000002', attempt: 1 },
        1,
      ),
    ).toBe(false);
    expect(await statusOf(id)).toBe('running');
  });
});

describe('retry backoff', () => {
  it('grows exponentially, stays within [step/2, step], and is capped', () => {
    for (let attempt = 1; attempt <= 30; attempt++) {
      const step = Math.min(60_000, 1000 * 2 ** (attempt - 1));
      expect(retryDelayMs(attempt, 1000, 60_000, () => 0)).toBe(step / 2);
      expect(retryDelayMs(attempt, 1000, 60_000, () => 0.999999)).toBeLessThanOrEqual(step);
      expect(retryDelayMs(attempt, 1000, 60_000, () => 0.999999)).toBeGreaterThan(step / 2);
    }
  });
});
