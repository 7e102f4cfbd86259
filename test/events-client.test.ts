import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TickworkApiError,
  TickworkClient,
  type RunProgress,
  type TickworkEvent,
  type WorkflowState,
} from '@tickwork/client';
import { eventLogHead, formatEventCursor, readEvents, type EventCursor } from '@tickwork/core';
import { createTestEnv, type TestEnv } from './support/env.js';
import { enqueue, startStack, waitForStatus, type Stack } from './support/stack.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import { waitFor } from './support/wait.js';

/**
 * The client's side of the event stream: `events()` (an AsyncIterable over fetch that resumes after
 * a dropped connection), `waitForRun` and `waitForWorkflow` over the stream, and their fallback to
 * polling against a server without one. A real API listening on a port, a dispatcher and a worker.
 */
let env: TestEnv;
let stack: Stack;
let base: string;
let proxy: TcpProxy | undefined;
let oldServer: Server | undefined;

/** The requests the client sends, by path (a spy on the global fetch it uses). */
const requested: string[] = [];
const realFetch = globalThis.fetch;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  await stack.api.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(stack.api.server.address() as AddressInfo).port}`;
  globalThis.fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    requested.push(new URL(url).pathname);
    return realFetch(input, init);
  };
}, 120_000);

afterAll(async () => {
  globalThis.fetch = realFetch;
  await proxy?.close();
  oldServer?.close();
  await stack?.stop();
  await env?.cleanup();
});

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

/** Reports progress on a running run as its worker would (the column the trigger turns into run.progress). */
async function reportProgress(runId: number, fraction: number, message: string): Promise<void> {
  const progress = { fraction, done: fraction * 10, total: 10, message, at: new Date().toISOString() };
  await env.pool.query(`UPDATE runs SET progress = $2 WHERE id = $1`, [runId, JSON.stringify(progress)]);
}

describe('waitForRun', () => {
  it('follows the run on the stream: its events and progress, without polling', async () => {
    const client = new TickworkClient({ baseUrl: base });
    const { run } = await client.enqueue({ task: 'diag.sleep', args: { ms: 2500 } });
    const events: string[] = [];
    const reports: RunProgress[] = [];
    const before = requested.length;
    const waiting = client.waitForRun(run.id, {
      timeoutMs: 60_000,
      onEvent: (event) => events.push(event.type),
      onProgress: (progress, runId) => {
        expect(runId).toBe(run.id);
        reports.push(progress);
      },
    });
    await waitForStatus(env, run.id, 'running');
    await reportProgress(run.id, 0.5, 'half way');
    const done = await waiting;
    expect(done).toMatchObject({ id: run.id, status: 'succeeded', result: { slept: 2500 } });
    expect(events).toContain('run.succeeded');
    expect(reports.map((p) => p.message)).toContain('half way');
    expect(reports[0]).toMatchObject({ fraction: 0.5, done: 5, total: 10 });
    // One stream, and the run read at the start and on each status change: not every 250 ms.
    const sent = requested.slice(before);
    expect(sent.filter((path) => path === '/api/v1/events')).toHaveLength(1);
    expect(sent.filter((path) => path === `/api/v1/runs/${run.id}`).length).toBeLessThanOrEqual(4);
  });

  it('misses no transition between subscribing and reading: a run already finished returns at once', async () => {
    const client = new TickworkClient({ baseUrl: base });
    const { run } = await client.enqueue({ task: 'diag.echo', args: { n: 1 } });
    await waitForStatus(env, run.id, 'succeeded');
    const done = await client.waitForRun(run.id, { timeoutMs: 10_000 });
    expect(done.status).toBe('succeeded');
  });

  it('times out with TickworkTimeoutError, and the stream is closed', async () => {
    const client = new TickworkClient({ baseUrl: base });
    const { run } = await client.enqueue({ task: 'diag.sleep', args: { ms: 5000 } });
    const error: unknown = await client.waitForRun(run.id, { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TickworkTimeoutError' });
    await waitForStatus(env, run.id, 'succeeded');
  });

  it('polls where the server has no event stream (an older API answering 404)', async () => {
    // An "older server": the API, except that /api/v1/events does not exist.
    oldServer = createServer((request, response) => {
      if (request.url?.startsWith('/api/v1/events')) {
        response.writeHead(404, { 'content-type': 'application/problem+json' });
        response.end(JSON.stringify({ title: 'Not Found', status: 404, detail: 'no route' }));
        return;
      }
      void realFetch(`${base}${request.url ?? '/'}`, { method: request.method ?? 'GET' }).then(
        async (answer) => {
          response.writeHead(answer.status, {
            'content-type': answer.headers.get('content-type') ?? 'text/plain',
          });
          response.end(Buffer.from(await answer.arrayBuffer()));
        },
      );
    });
    await new Promise<void>((resolve) => oldServer?.listen(0, '127.0.0.1', resolve));
    const old = new TickworkClient({
      baseUrl: `http://127.0.0.1:${(oldServer.address() as AddressInfo).port}`,
    });
    const run = await enqueue(stack.api, { task: 'diag.sleep', args: { ms: 1500 } });
    const reports: RunProgress[] = [];
    const polled: string[] = [];
    const waiting = old.waitForRun(run.id, {
      timeoutMs: 60_000,
      intervalMs: 100,
      onPoll: (r) => polled.push(r.status),
      onProgress: (progress) => reports.push(progress),
    });
    await waitForStatus(env, run.id, 'running');
    await reportProgress(run.id, 0.25, 'polled');
    const done = await waiting;
    expect(done.status).toBe('succeeded');
    expect(polled.length).toBeGreaterThan(3);
    expect(reports.map((p) => p.message)).toContain('polled');
  });
});

describe('events()', () => {
  it('resumes after a cut connection with the last id it saw: no gap, no duplicate', async () => {
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(base).port) });
    const client = new TickworkClient({ baseUrl: proxy.via(base) });
    const start = await eventLogHead(env.pool);
    const opened = requested.filter((path) => path === '/api/v1/events').length;
    const received: TickworkEvent[] = [];
    const stream = client.events({}, { lastEventId: formatEventCursor(start) });
    const reading = (async () => {
      for await (const event of stream) received.push(event);
    })();
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) runs.push((await enqueue(stack.api, { task: 'diag.echo', args: { i } })).id);
    await waitFor(() => received.length >= 5, { what: 'some events before the cut' });
    proxy.cut();
    for (let i = 0; i < 5; i++) runs.push((await enqueue(stack.api, { task: 'diag.echo', args: { i } })).id);
    for (const id of runs) await waitForStatus(env, id, 'succeeded');
    const log = await logAfter(start);
    await waitFor(() => received.length >= log.length, { timeoutMs: 30_000, what: 'the whole log' });
    stream.close();
    await reading;
    expect(received.slice(0, log.length)).toEqual(log);
    // Connected, cut, connected again.
    expect(requested.filter((path) => path === '/api/v1/events').length).toBeGreaterThanOrEqual(opened + 2);
  });

  it('filters, and ends with the API’s refusal when it cannot go on (a bad id)', async () => {
    const client = new TickworkClient({ baseUrl: base });
    const from = formatEventCursor(await eventLogHead(env.pool));
    const run = await enqueue(stack.api, { task: 'diag.echo', args: {}, delaySeconds: 0.2 });
    const stream = client.events(
      { runId: run.id, type: ['run.queued', 'run.succeeded'] },
      { lastEventId: from },
    );
    const types: string[] = [];
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'run.succeeded') break;
    }
    expect(types).toEqual(['run.queued', 'run.succeeded']);
    const refused: unknown = await (async () => {
      for await (const _ of client.events({}, { lastEventId: 'bogus' })) return undefined;
    })().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TickworkApiError);
    expect(refused).toMatchObject({ status: 400, code: 'invalid_event_id' });
  });
});

describe('waitForWorkflow', () => {
  it('waits for a workflow to end, over the stream', async () => {
    const client = new TickworkClient({ baseUrl: base });
    const response = await stack.api.inject({
      method: 'POST',
      url: '/api/v1/workflows',
      payload: {
        name: 'events-chain',
        root: {
          type: 'chain',
          steps: [
            { type: 'task', task: 'diag.sleep', args: { ms: 300 } },
            { type: 'task', task: 'diag.echo', args: { last: true } },
          ],
        },
      },
    });
    expect(response.statusCode, response.body).toBe(202);
    const { id } = response.json<{ id: number }>();
    const seen: string[] = [];
    const done: WorkflowState = await client.waitForWorkflow(id, {
      timeoutMs: 60_000,
      onEvent: (event) => seen.push(event.type),
    });
    expect(done).toMatchObject({ id, status: 'succeeded' });
    expect(seen).toContain('workflow.succeeded');
    expect(seen).toContain('run.succeeded');
  });
});
