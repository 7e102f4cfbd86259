import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { delay, getRun, type Broker } from '@tickwork/core';
import type { App } from '../../apps/api/src/app.js';
import { AttemptLog } from '../support/attempts.js';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { exitOf, Fleet, sigkill, type Kill } from '../support/fleet.js';
import { SERVICE_START_MS, type ServiceProcess } from '../support/processes.js';
import { doublesAndGaps, firedSeconds, waitForFireAfter } from '../support/schedule-runs.js';
import { enqueue, startApi, startDispatcher, waitForStatus } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

/** Services killed at the worst moments, as real processes: nothing accepted is lost or run twice at once. */
let env: TestEnv;
let api: App;
let apiBroker: Broker;
let fleet: Fleet;

beforeAll(async () => {
  env = await createTestEnv();
  ({ api, broker: apiBroker } = await startApi(env));
  fleet = new Fleet(env);
});

// Whatever a test left running (a failed one especially) must not serve the next.
afterEach(() => fleet?.killAll());

afterAll(async () => {
  await fleet?.killAll();
  await api?.close();
  await apiBroker?.stop();
  await env?.cleanup();
});

const randomBetween = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

/**
 * `promise`, marked as handled: a start awaited later must not surface as an unhandled rejection when
 * the test fails first (afterEach then kills the process it waits for).
 */
const later = <T>(promise: Promise<T>): Promise<T> => {
  promise.catch(() => undefined);
  return promise;
};

async function statusCounts(ids: number[]): Promise<Record<string, number>> {
  const { rows } = await env.pool.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM runs WHERE id = ANY($1) GROUP BY status',
    [ids],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

function waitForAll(ids: number[], status: string, timeoutMs: number) {
  return waitFor(async () => ((await statusCounts(ids))[status] ?? 0) === ids.length, {
    timeoutMs,
    intervalMs: 200,
    what: `${ids.length} runs to be ${status}`,
  }).catch(async (error: unknown) => {
    throw new Error(`${(error as Error).message}; statuses ${JSON.stringify(await statusCounts(ids))}`);
  });
}

/** Runs currently `running`, by worker id. */
async function busyWorkers(): Promise<Map<string, number>> {
  const { rows } = await env.pool.query<{ worker_id: string; n: number }>(
    `SELECT worker_id, count(*)::int AS n FROM runs WHERE status = 'running' GROUP BY worker_id`,
  );
  return new Map(rows.map((r) => [r.worker_id, r.n]));
}

/**
 * Every attempt but the last was cut short by a kill of its worker, and the next one started only
 * after that kill: no run had two attempts in progress at once.
 */
function expectAttemptsOnlyAfterKills(log: AttemptLog, ids: number[], kills: Map<string, Kill>): number {
  let retried = 0;
  for (const id of ids) {
    const attempts = log.of(id);
    expect(
      attempts.map((a) => a.attempt),
      `attempts of run ${id} seen`,
    ).toEqual(attempts.map((_, i) => i + 1));
    for (const [i, attempt] of attempts.slice(0, -1).entries()) {
      const kill = kills.get(attempt.workerId);
      expect(
        kill,
        `run ${id} attempt ${attempt.attempt} ended without its worker being killed`,
      ).toBeDefined();
      const next = attempts[i + 1]!;
      expect(next.startedAt.getTime(), `run ${id} attempt ${next.attempt} overlapped`).toBeGreaterThanOrEqual(
        kill!.killedAt,
      );
      retried++;
    }
  }
  return retried;
}

describe('SIGKILL and SIGTERM of service processes', () => {
  it('repeated SIGKILLs of busy workers: every run succeeds, retried only after its worker died, never overlapping', async () => {
    const dispatcher = await startDispatcher(env);
    const workers = new Map<string, ServiceProcess>();
    const replacements: Array<Promise<void>> = [];
    const addWorker = () =>
      fleet.spawnWorker({ WORKER_CONCURRENCY: '2' }).then((w) => void workers.set(w.id, w.process));
    await Promise.all([addWorker(), addWorker(), addWorker()]);
    const log = new AttemptLog(env.pool);
    log.start();
    const kills = new Map<string, Kill>();
    try {
      // Work enough (about 14 s on six slots) to outlast the kills below when, on a loaded machine, each
      // round takes seconds beyond its pause.
      const batch = [
        ...Array.from({ length: 30 }, () => ({
          task: 'diag.sleep',
          args: { ms: randomBetween(1500, 4000) },
        })),
        ...Array.from({ length: 5 }, (_, i) => ({ task: 'diag.echo', args: { i } })),
      ].sort(() => Math.random() - 0.5);
      const ids: number[] = [];
      for (const body of batch) ids.push((await enqueue(api, { ...body, maxRetries: 10 })).id);

      // A kill every 1-2 s, each of a worker with a running run; a replacement starts at once.
      for (let round = 0; round < 6; round++) {
        await delay(randomBetween(1000, 2000));
        // Waits for one: a worker registers before it consumes, and on a loaded machine its first
        // claim may come long after. An empty list (no run left to cut short) ends the kills.
        const busy = await waitFor(
          async () => {
            const running = await busyWorkers();
            const candidates = [...workers.keys()].filter((id) => running.has(id));
            if (candidates.length > 0) return candidates;
            return (await statusCounts(ids)).succeeded === ids.length ? [] : undefined;
          },
          { timeoutMs: SERVICE_START_MS, what: 'a busy worker' },
        );
        const victim = busy[randomBetween(0, busy.length - 1)];
        if (victim === undefined) break;
        const p = workers.get(victim)!;
        workers.delete(victim);
        kills.set(victim, await sigkill(p));
        replacements.push(later(addWorker()));
      }
      expect(kills.size, 'kills that landed on busy workers').toBeGreaterThanOrEqual(3);
      // The runs left may wait for the replacements to start.
      await waitForAll(ids, 'succeeded', SERVICE_START_MS + 45_000);
      await Promise.all(replacements);

      // All workers killed at once, mid-task: the reaper leaves no run `running`. The runs last long
      // enough that all six are still running when a loaded machine lets the test see it and kill.
      const last: number[] = [];
      for (let i = 0; i < 6; i++)
        last.push((await enqueue(api, { task: 'diag.sleep', args: { ms: 8000 }, maxRetries: 10 })).id);
      await waitForAll(last, 'running', 30_000);
      for (const [id, p] of workers) kills.set(id, await sigkill(p));
      workers.clear();
      await waitFor(async () => (await busyWorkers()).size === 0, {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: 'the reaper to take every run off the dead workers',
      });
      for (const id of last)
        expect((await getRun(env.pool, id))?.error).toMatchObject({ type: 'WorkerLost' });
      await addWorker();
      // Six runs of 8 s on one worker running two at a time.
      await waitForAll(last, 'succeeded', 90_000);

      await log.stop();
      const all = [...ids, ...last];
      const retried = expectAttemptsOnlyAfterKills(log, all, kills);
      // Each kill cut at least one attempt short (the last three, two each): the kills landed mid-task.
      expect(retried, 'attempts cut short by a kill').toBeGreaterThanOrEqual(kills.size);
      for (const id of all) {
        const run = await getRun(env.pool, id);
        expect(run?.attempts, `run ${id}`).toBe(log.of(id).length);
        if (run?.task === 'diag.sleep')
          expect(run.result).toEqual({ slept: (run.args as { ms: number }).ms });
      }
    } finally {
      await log.stop().catch(() => undefined);
      for (const p of workers.values()) p.kill('SIGKILL');
      await dispatcher.stop();
    }
    // Three rounds of cold worker starts (SERVICE_START_MS each: the first three, the replacements, the
    // last one) are the slow part on a loaded machine, then the work.
  }, 720_000);

  it('SIGKILL of schedulers while a burst of delayed runs is dispatched: each runs once, the schedule keeps every second', async () => {
    const [a, b] = await Promise.all([
      fleet.spawnScheduler(),
      fleet.spawnScheduler(),
      fleet.spawnWorker({ WORKER_CONCURRENCY: '20' }),
    ]);
    const created = await api.inject({
      method: 'POST',
      url: '/api/v1/schedules',
      payload: {
        name: 'every-second-across-kills',
        task: 'diag.echo',
        trigger: { type: 'cron', expression: '* * * * * *' },
        // Every due time must run however long the replacements take to start on a loaded machine,
        // and however many of its runs wait behind the burst meanwhile: no misfire, no instance cap.
        misfireGraceSeconds: 3600,
        coalesce: false,
        maxInstances: 1000,
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const schedule = created.json<{ id: number }>();
    await waitForFireAfter(env.pool, schedule.id, Date.now() + 1000);

    // A burst due at one instant (whole second: the schedule fires then too): 1000 runs make two batches
    // of the dispatcher's 500, so both replicas promote and publish at once. All must be accepted
    // before that instant, and how long 1000 posts take depends on the machine's load: time 50 (due in
    // an hour, outside the burst) and leave twice what the burst's 20 times 50 would take.
    const timing = Date.now();
    await Promise.all(
      Array.from({ length: 50 }, (_, j) =>
        enqueue(api, { task: 'diag.echo', args: { timing: j }, delaySeconds: 3600 }),
      ),
    );
    const lead = Math.max(5000, 2 * 20 * (Date.now() - timing));
    const dueAt = Math.ceil((Date.now() + lead) / 1000) * 1000;
    const ids: number[] = [];
    for (let i = 0; i < 1000; i += 50) {
      const chunk = await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          enqueue(api, { task: 'diag.echo', args: { n: i + j }, runAt: new Date(dueAt).toISOString() }),
        ),
      );
      ids.push(...chunk.map((r) => r.id));
      expect(
        chunk.every((r) => r.status === 'scheduled'),
        'accepted before their due time',
      ).toBe(true);
    }

    // The first promotion committed: a replica is dispatching. Kill one now, the other a moment later.
    await waitFor(
      async () => {
        const { rows } = await env.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM runs WHERE id = ANY($1) AND status <> 'scheduled'`,
          [ids],
        );
        return rows[0]!.n > 0;
      },
      { timeoutMs: dueAt - Date.now() + 10_000, intervalMs: 2, what: 'the burst to be promoted' },
    );
    await sigkill(a);
    const replacementA = later(fleet.spawnScheduler());
    await delay(randomBetween(10, 60));
    await sigkill(b);
    const replacementB = later(fleet.spawnScheduler());
    // The premise: the kills cut the dispatch short (runs still scheduled, or queued and not marked published).
    const { rows: cut } = await env.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM runs WHERE id = ANY($1) AND (status = 'scheduled' OR published_at IS NULL)`,
      [ids],
    );
    expect(cut[0]!.n, 'runs whose dispatch the kills interrupted').toBeGreaterThan(0);
    await Promise.all([replacementA, replacementB]);
    const restartedAt = Date.now();

    await waitForAll(ids, 'succeeded', 120_000);
    const { rows } = await env.pool.query<{ id: number; attempts: number }>(
      'SELECT id, attempts FROM runs WHERE id = ANY($1) AND attempts <> 1',
      [ids],
    );
    expect(rows, 'runs started more than once').toEqual([]);

    await waitForFireAfter(env.pool, schedule.id, restartedAt + 2000);
    const paused = await api.inject({ method: 'POST', url: `/api/v1/schedules/${schedule.id}/pause` });
    expect(paused.statusCode).toBe(200);
    const fired = await firedSeconds(env.pool, schedule.id);
    expect(doublesAndGaps(fired)).toEqual({ doubled: [], missing: [] });
    expect(fired.some((f) => f.second * 1000 === dueAt)).toBe(true);
    const missed = await api.inject({ method: 'GET', url: `/api/v1/schedules/${schedule.id}` });
    expect(missed.json<{ missedRuns: number }>().missedRuns).toBe(0);
    // Two rounds of cold starts (SERVICE_START_MS each: three processes, then two replacements) on a
    // loaded machine, then 1000 runs.
  }, 540_000);

  it('SIGTERM with tasks of different lengths: short ones finish in the grace, long ones are handed back, exit 0', async () => {
    const a = await fleet.spawnWorker({ WORKER_CONCURRENCY: '4', WORKER_SHUTDOWN_GRACE_SECONDS: '5' });
    // Short ones end within the grace; long ones outlast it even if the test, on a loaded machine,
    // sees them running (and sends SIGTERM) seconds after they started.
    const short = [1200, 2000];
    const long = [15_000, 16_000];
    const runs = new Map<number, number>();
    for (const ms of [...short, ...long])
      runs.set((await enqueue(api, { task: 'diag.sleep', args: { ms } })).id, ms);
    await waitForAll([...runs.keys()], 'running', 30_000);

    a.process.kill('SIGTERM');
    // Accepted while the worker drains: it takes no new work.
    const late = await enqueue(api, { task: 'diag.echo', args: { late: true } });
    expect(await exitOf(a.process, 30_000)).toEqual({ code: 0, signal: null });

    for (const [id, ms] of runs) {
      const run = await getRun(env.pool, id);
      if (short.includes(ms))
        expect(run).toMatchObject({
          status: 'succeeded',
          attempts: 1,
          workerId: a.id,
          result: { slept: ms },
        });
      else expect(run).toMatchObject({ status: 'queued', attempts: 1, startedAt: null });
    }
    expect(await getRun(env.pool, late.id)).toMatchObject({ status: 'queued', attempts: 0 });

    const b = await fleet.spawnWorker({ WORKER_CONCURRENCY: '4' });
    for (const [id, ms] of runs) {
      const run = await waitForStatus(env, id, 'succeeded', 60_000);
      expect(run.result).toEqual({ slept: ms });
      expect(run.attempts).toBe(short.includes(ms) ? 1 : 2);
      if (long.includes(ms)) expect(run.workerId).toBe(b.id);
    }
    expect(await waitForStatus(env, late.id, 'succeeded', 30_000)).toMatchObject({
      attempts: 1,
      workerId: b.id,
    });
    b.process.kill('SIGTERM');
    expect(await exitOf(b.process)).toEqual({ code: 0, signal: null });
  }, 450_000);
});
