import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  claimRuns,
  getRun,
  insertRun,
  promoteDueRuns,
  reapRunsOfDeadWorkers,
  recordSuccesses,
  toProgressReport,
  writeProgress,
} from '@tickwork/core';
import { createTestEnv, type TestEnv } from './support/env.js';

/*
 * The statement that stores progress reports (writeProgress) writes only for the attempt that owns its
 * run: a superseded attempt (its worker was taken for dead and the run reaped, then claimed by another
 * worker) never overwrites what the run shows; a new attempt starts with none; the last report goes
 * with the outcome. Core statements against this file's own database, no services.
 */

const FIRST = '00000000-0000-4000-8000-0000000000a1';
const SECOND = '00000000-0000-4000-8000-0000000000b2';

let env: TestEnv;

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  await env?.cleanup();
});

const report = (fraction: number, message: string) => JSON.stringify(toProgressReport(fraction, message));
const progressOf = async (id: number) => (await getRun(env.pool, id))?.progress;

describe('writeProgress', () => {
  it('writes only for the attempt that owns the run, and a new attempt starts without progress', async () => {
    const { run } = await insertRun(env.pool, {
      task: 'diag.echo',
      args: {},
      queue: 'default',
      maxRetries: 3,
      timeoutSeconds: 60,
    });
    const message = { runId: run.id, task: 'diag.echo', queue: 'default' };
    const [first] = await claimRuns(env.pool, [message], FIRST);
    expect(first).toMatchObject({ started: true, run: { attempts: 1 } });

    const written = await writeProgress(env.pool, FIRST, [
      { runId: run.id, attempt: 1, progressJson: report(0.3, 'first attempt') },
    ]);
    expect([...written]).toEqual([run.id]);
    expect(await progressOf(run.id)).toMatchObject({ fraction: 0.3, message: 'first attempt' });

    // FIRST is no live worker (no heartbeat, no presence lock): the reaper takes its run back.
    expect(await reapRunsOfDeadWorkers(env.pool)).toEqual([{ id: run.id, status: 'retrying' }]);
    const late = await writeProgress(env.pool, FIRST, [
      { runId: run.id, attempt: 1, progressJson: report(0.9, 'late report of a reaped attempt') },
    ]);
    expect(late.size).toBe(0);
    expect(await progressOf(run.id)).toMatchObject({ fraction: 0.3, message: 'first attempt' });

    // Another worker's claim starts attempt 2, without attempt 1's progress.
    expect((await promoteDueRuns(env.pool, 10)).map((r) => r.id)).toEqual([run.id]);
    const [second] = await claimRuns(env.pool, [message], SECOND);
    expect(second).toMatchObject({ started: true, run: { attempts: 2 } });
    expect(await progressOf(run.id)).toBeNull();

    // Neither the superseded attempt nor a wrong attempt number writes; the owner does.
    const stale = [
      ...(await writeProgress(env.pool, FIRST, [
        { runId: run.id, attempt: 1, progressJson: report(1, 'x') },
      ])),
      ...(await writeProgress(env.pool, SECOND, [
        { runId: run.id, attempt: 1, progressJson: report(1, 'y') },
      ])),
    ];
    expect(stale).toEqual([]);
    expect(await progressOf(run.id)).toBeNull();
    const owner = await writeProgress(env.pool, SECOND, [
      { runId: run.id, attempt: 2, progressJson: report(0.5, 'second attempt') },
    ]);
    expect([...owner]).toEqual([run.id]);

    // The last report goes with the success; nothing is written after the run ended.
    const stored = await recordSuccesses(env.pool, SECOND, [
      { runId: run.id, attempt: 2, result: { ok: true }, progressJson: report(1, 'all done') },
    ]);
    expect([...stored]).toEqual([run.id]);
    const after = await writeProgress(env.pool, SECOND, [
      { runId: run.id, attempt: 2, progressJson: report(0.7, 'after the end') },
    ]);
    expect(after.size).toBe(0);
    expect(await getRun(env.pool, run.id)).toMatchObject({
      status: 'succeeded',
      progress: { fraction: 1, message: 'all done' },
    });
  });

  it('skips a run whose row another transaction holds, rather than waiting for it', async () => {
    const { run } = await insertRun(env.pool, {
      task: 'diag.echo',
      args: {},
      queue: 'default',
      maxRetries: 0,
      timeoutSeconds: 60,
    });
    await claimRuns(env.pool, [{ runId: run.id, task: 'diag.echo', queue: 'default' }], FIRST);
    const holder = await env.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM runs WHERE id = $1 FOR UPDATE', [run.id]);
      const started = performance.now();
      const written = await writeProgress(env.pool, FIRST, [
        { runId: run.id, attempt: 1, progressJson: report(0.5, 'while locked') },
      ]);
      expect(written.size).toBe(0);
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    const written = await writeProgress(env.pool, FIRST, [
      { runId: run.id, attempt: 1, progressJson: report(0.5, 'unlocked') },
    ]);
    expect([...written]).toEqual([run.id]);
  });
});
