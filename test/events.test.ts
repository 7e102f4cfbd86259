import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TickworkClient, type TickworkEvent } from '@tickwork/client';
import {
  EventFeed,
  LOG_START,
  deleteOldEvents,
  eventLogHead,
  formatEventCursor,
  parseEventCursor,
  readEvents,
  type Broker,
  type EventCursor,
} from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { ascending, statusesOf, tapEvents, type EventTap, type Received } from './support/event-tap.js';
import { enqueue, startApi, startStack, waitForStatus, type Stack } from './support/stack.js';
import { waitFor } from './support/wait.js';

/**
 * The live event stream (issue 16, item 5), end to end: an API listening on a port, the dispatcher
 * and a worker (in-process, from their factories), PostgreSQL's event log and its NOTIFY, read over
 * HTTP as a browser would. Figures (latency from a run's change to its delivery, events per second one
 * stream carries) are printed and written to test-artifacts/events-figures.json.
 */
const ARTIFACTS = join(import.meta.dirname, '../test-artifacts');

let env: TestEnv;
let stack: Stack;
let base: string;
const taps: EventTap[] = [];
const extraApis: Array<{ api: App; broker: Broker }> = [];
const figures: Record<string, unknown> = {};

async function listen(api: App): Promise<string> {
  await api.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
}

async function tap(query = '', headers: Record<string, string> = {}, at = base): Promise<EventTap> {
  const opened = await tapEvents(`${at}/api/v1/events${query}`, headers);
  taps.push(opened);
  return opened;
}

/** Every settled event after `after` in the log, as the API shows them. */
async function logAfter(after: EventCursor): Promise<TickworkEvent[]> {
  const out: TickworkEvent[] = [];
  for (let cursor = after; ;) {
    const page = await readEvents(env.pool, { after: cursor, limit: 1000 });
    out.push(...page.map((e) => e.event));
    const last = page.at(-1);
    if (!last || page.length < 1000) return out;
    cursor = last.cursor;
  }
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { overrides: { WORKER_CONCURRENCY: '8', RETRY_BACKOFF_BASE_MS: '50' } });
  base = await listen(stack.api);
}, 120_000);

afterAll(async () => {
  for (const t of taps) t.close();
  for (const extra of extraApis) {
    await extra.api.close();
    await extra.broker.stop();
  }
  await stack?.stop();
  await env?.cleanup();
  if (Object.keys(figures).length > 0) {
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'events-figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
  }
});

describe('a run on the stream', () => {
  it('arrives as queued → running → succeeded, in log order, with the SSE fields', async () => {
    const stream = await tap();
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const run = await enqueue(stack.api, { task: 'diag.echo', args: { hello: 'events' } });
    await stream.waitUntil((r) => statusesOf(r, run.id).includes('succeeded'), `run ${run.id} succeeded`);
    expect(statusesOf(stream.events, run.id)).toEqual(['queued', 'running', 'succeeded']);
    const mine = stream.events.filter(({ event }) => event.runId === run.id).map(({ event }) => event);
    expect(ascending(mine.map((e) => e.id))).toBe(true);
    expect(mine[2]).toMatchObject({
      type: 'run.succeeded',
      task: 'diag.echo',
      queue: 'default',
      workflowId: null,
      data: { status: 'succeeded', from: 'running', attempt: 1 },
    });
    // On the wire: `id:` is the event's id, `event:` its type; the first message is the start, id only.
    expect(stream.messages[0]).toMatchObject({ data: '' });
    expect(stream.messages[0]?.retry).toBeGreaterThan(0);
    const message = stream.messages.find((m) => m.data.includes(`"runId":${run.id}`));
    expect(message?.id).toBe(mine[0]?.id);
    expect(message?.event).toBe('run.queued');
  });

  it('a failing task: running → retrying → … → failed, each attempt numbered, the error on the event', async () => {
    const stream = await tap('?task=diag.flaky');
    const run = await enqueue(stack.api, {
      task: 'diag.flaky',
      args: { failUntilAttempt: 9 },
      maxRetries: 2,
    });
    await stream.waitUntil((r) => statusesOf(r, run.id).includes('failed'), `run ${run.id} failed`);
    expect(statusesOf(stream.events, run.id)).toEqual([
      'queued',
      'running',
      'retrying',
      'queued',
      'running',
      'retrying',
      'queued',
      'running',
      'failed',
    ]);
    const attempts = stream.events
      .filter(({ event }) => event.runId === run.id && event.type === 'run.running')
      .map(({ event }) => event.data.attempt);
    expect(attempts).toEqual([1, 2, 3]);
    const failed = stream.events.find(({ event }) => event.type === 'run.failed')?.event;
    expect(failed?.data).toMatchObject({
      from: 'running',
      attempt: 3,
      error: { type: 'RetryableTaskError', message: 'flaky failure on attempt 3 of 9' },
    });
  });

  it('a progress report is a run.progress event', async () => {
    const stream = await tap('?type=run.progress');
    const run = await enqueue(stack.api, { task: 'diag.sleep', args: { ms: 1500 } });
    await waitForStatus(env, run.id, 'running');
    const progress = { fraction: 0.5, done: 5, total: 10, message: 'half way', at: new Date().toISOString() };
    await env.pool.query(`UPDATE runs SET progress = $2 WHERE id = $1`, [run.id, JSON.stringify(progress)]);
    await stream.waitUntil((r) => r.some(({ event }) => event.runId === run.id), 'the progress event');
    expect(stream.events.map(({ event }) => event.type)).toEqual(['run.progress']);
    expect(stream.events[0]?.event.data).toMatchObject({ status: 'running', attempt: 1, progress });
  });
});

describe('filters', () => {
  it('by run ids (repeated or comma-separated), task, queue, type and kind, workflow', async () => {
    // Every stream starts from here: each sees the same stretch of the log, filtered its own way.
    const from = { 'last-event-id': formatEventCursor(await eventLogHead(env.pool)) };
    const [a, b] = [
      await enqueue(stack.api, { task: 'diag.sleep', args: { ms: 1 }, delaySeconds: 1 }),
      await enqueue(stack.api, { task: 'diag.sleep', args: { ms: 1 }, delaySeconds: 1 }),
    ];
    const byRun = await tap(`?runId=${a.id}`, from);
    const byRuns = await tap(`?runId=${a.id},${b.id}`, from);
    const byRepeated = await tap(`?runId=${a.id}&runId=${b.id}`, from);
    const byType = await tap('?type=run.succeeded&type=workflow.*', from);
    const byTask = await tap('?task=diag.echo', from);
    const byQueue = await tap('?queue=filtered', from);
    const all = await tap('', from);
    const echo = await enqueue(stack.api, { task: 'diag.echo', args: {}, queue: 'default' });
    // A run on a queue no worker consumes: queued, and no further.
    const parked = await enqueue(stack.api, { task: 'diag.echo', args: {}, queue: 'filtered' });
    const { rows } = await env.pool.query<{ id: number }>(
      `INSERT INTO workflows (name, spec, runs_total, runs_unfinished) VALUES ('wf', '{}', 0, 0) RETURNING id`,
    );
    const workflowId = rows[0]?.id ?? 0;
    await env.pool.query(`UPDATE workflows SET status = 'succeeded', finished_at = now() WHERE id = $1`, [
      workflowId,
    ]);
    // Opened after the fact: it catches up from the log, filtered the same way.
    const byWorkflow = await tap(`?workflowId=${workflowId}`, from);
    for (const id of [a.id, b.id, echo.id]) await waitForStatus(env, id, 'succeeded');
    await all.waitUntil(
      (r) =>
        r.some(({ event }) => event.type === 'workflow.succeeded') &&
        [a.id, b.id, echo.id].every((id) => statusesOf(r, id).includes('succeeded')),
      'every event on the unfiltered stream',
    );
    const lastOf = (id: number) =>
      all.events.filter(({ event }) => event.runId === id).at(-1)?.event.id ?? '';
    // Each filtered stream has everything the unfiltered one had that matches, and nothing else.
    const expectations: Array<[EventTap, (e: TickworkEvent) => boolean]> = [
      [byRun, (e) => e.runId === a.id],
      [byRuns, (e) => e.runId === a.id || e.runId === b.id],
      [byRepeated, (e) => e.runId === a.id || e.runId === b.id],
      [byType, (e) => e.type === 'run.succeeded' || e.type.startsWith('workflow.')],
      [byTask, (e) => e.task === 'diag.echo'],
      [byQueue, (e) => e.queue === 'filtered'],
      [byWorkflow, (e) => e.workflowId === workflowId],
    ];
    const expected = (match: (e: TickworkEvent) => boolean) =>
      all.events
        .map(({ event }) => event)
        .filter(match)
        .map((e) => e.id);
    for (const [stream, match] of expectations) {
      const ids = expected(match);
      await stream.waitUntil((r) => r.length >= ids.length, `${ids.length} events on a filtered stream`);
      // (What happened since the unfiltered stream was read may follow.)
      expect(stream.events.slice(0, ids.length).map(({ event }) => event.id)).toEqual(ids);
    }
    expect(statusesOf(byRun.events, a.id)).toEqual(['scheduled', 'queued', 'running', 'succeeded']);
    expect(byQueue.events.map(({ event }) => [event.runId, event.type])).toEqual([[parked.id, 'run.queued']]);
    expect(byType.events.map(({ event }) => event.type)).toEqual(
      expect.arrayContaining(['run.succeeded', 'workflow.running', 'workflow.succeeded']),
    );
    expect(lastOf(echo.id)).not.toBe('');
    expect(byWorkflow.events.map(({ event }) => event.type)).toEqual([
      'workflow.running',
      'workflow.succeeded',
    ]);
  });

  it('refuses what it cannot mean: an unknown type, a bad run id (400 problem+json)', async () => {
    const unknownType = await tap('?type=run.sucseeded');
    expect(unknownType.status).toBe(400);
    expect(unknownType.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(unknownType.text).toMatch(/type/);
    const badRun = await tap('?runId=1,x');
    expect(badRun.status).toBe(400);
  });
});

describe('resuming', () => {
  it('a bad Last-Event-ID (header or query) is a 400 problem, not a 500', async () => {
    for (const [query, headers] of [
      ['', { 'last-event-id': 'not-an-id' }],
      ['?lastEventId=12', {}],
      ['', { 'last-event-id': '99999999999999999999999-1' }],
    ] as const) {
      const refused = await tap(query, headers);
      expect(refused.status, `${query} ${JSON.stringify(headers)}`).toBe(400);
      const problem = JSON.parse(refused.text ?? '{}') as { code?: string; detail?: string };
      expect(problem.code).toBe('invalid_event_id');
      expect(problem.detail).toMatch(/is not an event id/);
    }
  });

  it('after a disconnect, Last-Event-ID brings exactly the missed events, also from a restarted API', async () => {
    const start = await eventLogHead(env.pool);
    const first = await tap('', { 'last-event-id': formatEventCursor(start) });
    const runs = [];
    for (let i = 0; i < 10; i++) runs.push(await enqueue(stack.api, { task: 'diag.echo', args: { i } }));
    await first.waitUntil((r) => r.length >= 12, 'a dozen events');
    first.close();
    await first.ended;
    const seenFirst = first.events.map(({ event }) => event);
    // Meanwhile, more happens; then the API process restarts (a new one, as after a deploy).
    for (let i = 0; i < 10; i++) runs.push(await enqueue(stack.api, { task: 'diag.echo', args: { i } }));
    const restarted = await startApi(env);
    extraApis.push(restarted);
    const otherBase = await listen(restarted.api);
    const second = await tap('', { 'last-event-id': first.lastId() ?? '' }, otherBase);
    const third = await tap(`?lastEventId=${seenFirst.at(5)?.id ?? ''}`);
    for (const run of runs) await waitForStatus(env, run.id, 'succeeded');
    const log = await logAfter(start);
    await second.waitUntil((r) => r.length + seenFirst.length >= log.length, 'the rest of the log');
    // No gap, no duplicate: the two streams together are the log (what came since may follow).
    const together = [...seenFirst, ...second.events.map(({ event }) => event)].slice(0, log.length);
    expect(together.map((e) => e.id)).toEqual(log.map((e) => e.id));
    expect(together).toEqual(log);
    await third.waitUntil((r) => r.length >= log.length - 6, 'the log after the sixth event');
    expect(third.events.slice(0, log.length - 6).map(({ event }) => event.id)).toEqual(
      log.slice(6).map((e) => e.id),
    );
  });

  it('without an id it starts at the head: only events not settled before the request', async () => {
    const before = await enqueue(stack.api, { task: 'diag.echo', args: {} });
    await waitForStatus(env, before.id, 'succeeded');
    // Settled: older than any transaction still running (in the whole cluster). Under load, an event
    // committed just before may not be yet: it then counts as new, and comes.
    const settled = await eventLogHead(env.pool);
    const stream = await tap();
    const after = await enqueue(stack.api, { task: 'diag.echo', args: {} });
    await stream.waitUntil((r) => statusesOf(r, after.id).includes('succeeded'), 'the new run');
    const startId = stream.messages[0]?.id ?? '';
    expect(ascending([formatEventCursor(settled), startId]) || startId === formatEventCursor(settled)).toBe(
      true,
    );
    expect(ascending([startId, ...stream.events.map(({ event }) => event.id)])).toBe(true);
    expect(statusesOf(stream.events, after.id)).toEqual(['queued', 'running', 'succeeded']);
  });
});

describe('NOTIFY only while someone listens', () => {
  it('writers notify only while an API has a stream open (event_listeners), and the row goes with the last stream', async () => {
    for (const t of taps) t.close();
    const listeners = async () =>
      (
        await env.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM event_listeners WHERE until > now()`,
        )
      ).rows[0]?.n ?? 0;
    await waitFor(async () => (await listeners()) === 0, { what: 'no event_listeners row' });
    const session = new pg.Client({ connectionString: env.databaseUrl });
    await session.connect();
    const notified: number[] = [];
    session.on('notification', () => notified.push(Date.now()));
    try {
      // LISTEN without registering: nobody asked for NOTIFYs, so none come.
      await session.query('LISTEN tickwork_events');
      const quiet = await enqueue(stack.api, { task: 'diag.echo', args: {} });
      await waitForStatus(env, quiet.id, 'succeeded');
      await session.query('SELECT 1'); // a round trip: a pending notification would have arrived
      expect(notified).toEqual([]);

      const stream = await tap();
      expect(await listeners()).toBe(1);
      const heard = await enqueue(stack.api, { task: 'diag.echo', args: {} });
      await waitFor(() => notified.length >= 3, { what: 'a NOTIFY per transaction of the run' });
      await stream.waitUntil((r) => statusesOf(r, heard.id).includes('succeeded'), 'its events');
      stream.close();
      await waitFor(async () => (await listeners()) === 0, { what: 'the row gone with the stream' });
    } finally {
      await session.end();
    }
  });
});

describe('the feed itself', () => {
  it('ends a subscriber that falls behind its buffer, and pages a catch-up with no gap', async () => {
    const feed = new EventFeed({
      pool: env.pool,
      databaseUrl: env.databaseUrl,
      logger: env.logger,
      bufferLimit: 20,
      pageSize: 7,
      pollMs: 100,
    });
    try {
      const start = await eventLogHead(env.pool);
      const slow = await feed.subscribe({});
      const insert = (n: number) =>
        env.pool.query(
          `INSERT INTO events (type, data) SELECT 'run.progress', '{}' FROM generate_series(1, $1)`,
          [n],
        );
      await insert(50);
      await waitFor(() => slow.ended === 'overflow', { what: 'the slow subscriber ended' });
      expect(await slow.take()).toEqual([]);
      // From an old cursor: caught up from the log a page (7) at a time, then live, exactly once each.
      const late = await feed.subscribe({}, { after: start });
      await insert(5);
      const got: string[] = [];
      const log = await waitFor(async () => {
        const all = await logAfter(start);
        return all.length >= 55 ? all : undefined;
      });
      while (got.length < log.length) got.push(...(await late.take()).map((e) => e.id));
      expect(got.slice(0, log.length)).toEqual(log.map((e) => e.id));
      late.close();
    } finally {
      await feed.close();
    }
  });

  it('LISTENs again after its session is killed (as by a PostgreSQL restart)', async () => {
    const stream = await tap();
    const backend = async () =>
      (
        await env.pool.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tickwork-events'`,
        )
      ).rows.map((r) => r.pid);
    const [old] = await waitFor(async () => ((await backend()).length === 1 ? backend() : undefined));
    await env.pool.query('SELECT pg_terminate_backend($1)', [old]);
    await waitFor(
      async () => {
        const pids = await backend();
        return pids.length === 1 && pids[0] !== old;
      },
      { what: 'a new LISTEN session' },
    );
    const run = await enqueue(stack.api, { task: 'diag.echo', args: {} });
    await stream.waitUntil((r) => statusesOf(r, run.id).includes('succeeded'), 'events after the reconnect');
  });

  it('cleanup deletes old events, never from keepFrom on', async () => {
    await env.pool.query(`UPDATE events SET at = at - interval '2 days'`);
    const all = await logAfter(LOG_START);
    const half = Math.floor(all.length / 2);
    const keepFrom = parseEventCursor(all[half]?.id ?? '');
    const deleted = await deleteOldEvents(env.pool, { olderThanSeconds: 86_400, keepFrom, batchSize: 10 });
    expect(deleted).toBe(half);
    expect((await logAfter(LOG_START))[0]?.id).toBe(formatEventCursor(keepFrom));
    const old = async () =>
      (
        await env.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM events WHERE at < now() - interval '1 day'`,
        )
      ).rows[0]?.n;
    const left = await old();
    expect(await deleteOldEvents(env.pool, { olderThanSeconds: 86_400, batchSize: 10 })).toBe(left);
    expect(await old()).toBe(0);
  });
});

describe('a long-lived stream and the API limits', () => {
  it('outlives API_REQUEST_TIMEOUT_MS; beyond EVENT_STREAM_MAX_CLIENTS: 503 with Retry-After', async () => {
    const limited = await startApi(env, { API_REQUEST_TIMEOUT_MS: '1000', EVENT_STREAM_MAX_CLIENTS: '1' });
    extraApis.push(limited);
    const limitedBase = await listen(limited.api);
    const stream = await tap('', {}, limitedBase);
    expect(stream.status).toBe(200);
    const full = await tap('', {}, limitedBase);
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('5');
    expect(full.text).toMatch(/EVENT_STREAM_MAX_CLIENTS/);
    // Three request timeouts later, still open and delivering.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const run = await enqueue(stack.api, { task: 'diag.echo', args: {} });
    await stream.waitUntil((r) => statusesOf(r, run.id).includes('succeeded'), 'events after 3 s');
    stream.close();
    await stream.ended;
    // Its slot is free again.
    await waitFor(async () => {
      const next = await tapEvents(`${limitedBase}/api/v1/events`);
      next.close();
      return next.status === 200;
    });
  });

  it('a stream ends cleanly when its API closes', async () => {
    const closing = await startApi(env);
    const closingBase = await listen(closing.api);
    const stream = await tap('', {}, closingBase);
    const started = Date.now();
    await closing.api.close();
    await closing.broker.stop();
    await stream.ended;
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('figures', { timeout: 240_000 }, () => {
  it('latency from a run’s change to its delivery, over a few hundred runs', async () => {
    const stream = await tap('?type=run.succeeded&type=run.running&type=run.queued');
    const runs: number[] = [];
    // 300 runs, 10 every 50 ms: a steady load, not one burst.
    for (let i = 0; i < 30; i++) {
      const response = await stack.api.inject({
        method: 'POST',
        url: '/api/v1/tasks/batch',
        payload: { tasks: Array.from({ length: 10 }, (_, j) => ({ task: 'diag.echo', args: { i, j } })) },
      });
      expect(response.statusCode).toBe(202);
      runs.push(...response.json<{ runs: Array<{ id: number }> }>().runs.map((r) => r.id));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const wanted = new Set(runs);
    const done = () =>
      stream.events.filter(({ event }) => event.type === 'run.succeeded' && wanted.has(event.runId ?? 0));
    await stream
      .waitUntil(() => done().length === runs.length, 'every run succeeded on the stream', 120_000)
      .catch(async (error: unknown) => {
        // What the database says of the runs the stream did not report, for the failure's reader.
        const got = new Set(done().map(({ event }) => event.runId));
        const missing = runs.filter((id) => !got.has(id));
        const { rows } = await env.pool.query(`SELECT id, status FROM runs WHERE id = ANY($1) LIMIT 10`, [
          missing,
        ]);
        throw new Error(`${String(error)}; not reported: ${JSON.stringify(rows)}`);
      });
    // `at` is the event's insert (clock_timestamp(), in its transaction): delivery after commit and read.
    const latency = (received: readonly Received[]) =>
      received.map(({ event, receivedAt }) => receivedAt - Date.parse(event.at)).sort((a, b) => a - b);
    const all = latency(stream.events.filter(({ event }) => wanted.has(event.runId ?? 0)));
    const result = {
      runs: runs.length,
      events: all.length,
      p50Ms: percentile(all, 50),
      p90Ms: percentile(all, 90),
      p99Ms: percentile(all, 99),
      maxMs: all.at(-1),
    };
    figures.latency = result;
    console.log('event stream latency (event written → SSE delivered):', JSON.stringify(result));
    const mine = stream.events.filter(({ event }) => wanted.has(event.runId ?? 0)).map(({ event }) => event);
    const ids = mine.map((e) => e.id);
    expect(new Set(ids).size, 'no event twice').toBe(ids.length);
    // Each run queued, started, succeeded (a redelivered message may start one twice: at least once).
    for (const id of runs)
      expect(
        statusesOf(stream.events, id).filter((status) => status !== 'queued' && status !== 'running'),
      ).toEqual(['succeeded']);
    // A NOTIFY wakes the feed at once; the 1 s backstop poll bounds a wait behind another transaction (the
    // bound is loose: the figure is printed above, and the machine may be loaded).
    expect(result.p50Ms).toBeLessThan(10_000);
  });

  it('what a NOTIFY costs writers: commits per second with and without a listener row', async () => {
    // 8 sessions, each changing its own run's progress in a loop (a commit, an event each): the hot path.
    const runs: number[] = [];
    for (let i = 0; i < 8; i++)
      runs.push((await enqueue(stack.api, { task: 'diag.echo', delaySeconds: 3600 })).id);
    const sessions = await Promise.all(
      runs.map(async () => {
        const client = new pg.Client({ connectionString: env.databaseUrl });
        await client.connect();
        return client;
      }),
    );
    const listener = new pg.Client({ connectionString: env.databaseUrl });
    await listener.connect();
    await listener.query('LISTEN tickwork_events');
    const commitsPerSecond = async (ms: number) => {
      const until = Date.now() + ms;
      const counts = await Promise.all(
        sessions.map(async (session, i) => {
          let n = 0;
          while (Date.now() < until) {
            await session.query(
              `UPDATE runs SET progress = jsonb_build_object('fraction', random(), 'at', now()) WHERE id = $1`,
              [runs[i]],
            );
            n++;
          }
          return n;
        }),
      );
      return Math.round(counts.reduce((a, b) => a + b, 0) / (ms / 1000));
    };
    try {
      for (const t of taps) t.close();
      await waitFor(
        async () =>
          (await env.pool.query(`SELECT 1 FROM event_listeners WHERE until > now()`)).rowCount === 0,
        { what: 'no listener row' },
      );
      await commitsPerSecond(1000); // warm-up
      const without = await commitsPerSecond(3000);
      await env.pool.query(
        `INSERT INTO event_listeners (listener, until) VALUES ('bench', now() + interval '1 hour')`,
      );
      const withNotify = await commitsPerSecond(3000);
      await env.pool.query(`DELETE FROM event_listeners WHERE listener = 'bench'`);
      const result = {
        sessions: 8,
        withoutNotify: without,
        withNotify,
        ratio: Math.round((withNotify / without) * 100) / 100,
      };
      figures.notifyCost = result;
      console.log('commits per second of 8 writers (each an event):', JSON.stringify(result));
      expect(without).toBeGreaterThan(0);
    } finally {
      await Promise.all([...sessions, listener].map((c) => c.end()));
    }
  });

  it('events per second one stream delivers (live, and catching up from the log)', async () => {
    const start = await eventLogHead(env.pool);
    const live: Received[] = [];
    const client = new TickworkClient({ baseUrl: base });
    // The client's stream: should this reader fall behind its buffer, it resumes from its last id.
    const liveStream = client.events({ task: 'bench.events' });
    await liveStream.open();
    const reading = (async () => {
      for await (const event of liveStream) live.push({ event, receivedAt: Date.now() });
    })();
    const count = 20_000;
    const insertStarted = Date.now();
    // 20,000 events in 20 transactions, as fast as PostgreSQL writes them.
    for (let i = 0; i < 20; i++)
      await env.pool.query(
        `INSERT INTO events (type, task, queue, data)
         SELECT 'run.progress', 'bench.events', 'default', jsonb_build_object('i', g) FROM generate_series(1, 1000) g`,
      );
    const insertMs = Date.now() - insertStarted;
    await waitFor(() => live.length >= count, { timeoutMs: 120_000, what: `${count} events live` });
    liveStream.close();
    await reading;
    const liveMs = (live.at(-1)?.receivedAt ?? 0) - insertStarted;
    const catchUpStarted = Date.now();
    const replay = await tap('?task=bench.events', { 'last-event-id': formatEventCursor(start) });
    await replay.waitUntil((r) => r.length >= count, `${count} events replayed`, 120_000);
    const catchUpMs = Date.now() - catchUpStarted;
    expect(replay.events.map(({ event }) => event.id)).toEqual(live.map(({ event }) => event.id));
    const result = {
      events: count,
      insertMs,
      liveEventsPerSecond: Math.round(count / (liveMs / 1000)),
      catchUpEventsPerSecond: Math.round(count / (catchUpMs / 1000)),
    };
    figures.throughput = result;
    // The whole log, over 20,000 ids (past 9,999 → 10,000): read in numeric (tx, id) order, head last.
    const log = await logAfter(LOG_START);
    expect(ascending(log.map((e) => e.id))).toBe(true);
    expect(formatEventCursor(await eventLogHead(env.pool))).toBe(log.at(-1)?.id);
    console.log('event stream throughput (one stream):', JSON.stringify(result));
  });
});
