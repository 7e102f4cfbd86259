import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startStack, waitForStatus, type Stack } from './support/stack.js';

/** Retention out of the box: the migrations ship a daily cleanup.runs schedule on the cleanup queue. */
let env: TestEnv;
let stack: Stack;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { overrides: { RUN_RETENTION_DAYS: '7' } });
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

interface Schedule {
  id: number;
  name: string;
  task: string;
  queue: string;
  enabled: boolean;
  nextRunAt: string;
  upcoming: string[];
  trigger: unknown;
}

describe('the default cleanup schedule', () => {
  it('exists after migrating: cleanup.runs daily at 03:00 UTC on the cleanup queue', async () => {
    const response = await stack.api.inject({
      method: 'GET',
      url: '/api/v1/schedules?task=cleanup.runs&include=upcoming',
    });
    const [schedule] = response.json<{ items: Schedule[] }>().items;
    expect(schedule).toMatchObject({
      name: 'cleanup.runs daily',
      task: 'cleanup.runs',
      queue: 'cleanup',
      enabled: true,
      trigger: { type: 'cron', expression: '0 3 * * *', timezone: 'UTC' },
    });
    const next = Date.parse(schedule!.nextRunAt);
    expect(schedule!.nextRunAt).toMatch(/T03:00:00\.000Z$/);
    expect(next).toBeGreaterThan(Date.now());
    expect(next - Date.now()).toBeLessThanOrEqual(24 * 3600_000);
    expect(schedule!.upcoming[1]).toBe(new Date(next + 24 * 3600_000).toISOString());
  });

  it('deletes finished runs older than RUN_RETENTION_DAYS when it fires, and nothing else', async () => {
    const { rows } = await stack.api.deps.pool.query<{ id: number; status: string }>(
      `INSERT INTO runs (task, queue, status, max_retries, timeout_seconds, finished_at)
       VALUES ('diag.echo', 'default', 'succeeded', 0, 60, now() - interval '8 days'),
              ('diag.echo', 'default', 'failed', 0, 60, now() - interval '30 days'),
              ('diag.echo', 'default', 'succeeded', 0, 60, now() - interval '6 days'),
              ('diag.echo', 'default', 'scheduled', 0, 60, NULL)
       RETURNING id, status`,
    );
    const list = await stack.api.inject({ method: 'GET', url: '/api/v1/schedules?task=cleanup.runs' });
    const [schedule] = list.json<{ items: Schedule[] }>().items;
    const fired = await stack.api.inject({
      method: 'POST',
      url: `/api/v1/schedules/${schedule!.id}/trigger`,
    });
    expect(fired.statusCode).toBe(202);
    const run = await waitForStatus(env, fired.json<{ id: number }>().id, 'succeeded');
    expect(run).toMatchObject({ queue: 'cleanup', result: { deleted: 2 } });
    const left = await env.pool.query<{ id: number }>('SELECT id FROM runs WHERE id = ANY($1) ORDER BY id', [
      rows.map((r) => r.id),
    ]);
    expect(left.rows.map((r) => r.id)).toEqual([rows[2]!.id, rows[3]!.id]);
  });
});
