import type { AddressInfo } from 'node:net';
import { createConnection, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Enqueuer, Outbox, type Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startApi } from './support/stack.js';
import { waitFor } from './support/wait.js';

/**
 * One request's bad input gets its own clear 400 and harms no other: not the valid requests that share
 * its INSERT (group commit), not the runs already stored. Strings are stored exactly as sent or refused.
 */
let env: TestEnv;
let api: App;
let broker: Broker;

beforeAll(async () => {
  env = await createTestEnv();
  ({ api, broker } = await startApi(env, { API_MAX_ARGS_BYTES: '65536', API_MAX_JSON_DEPTH: '16' }));
});

afterAll(async () => {
  await api?.close();
  await broker?.stop();
  await env?.cleanup();
});

interface Problem {
  status: number;
  detail: string;
  errors?: Array<{ field: string; message: string }>;
}

const TASKS = '/api/v1/tasks';
const nested = (depth: number): unknown => {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
};
/** Nesting too deep to build (or stringify) as a value in this process: written out as JSON text. */
class Deep {
  constructor(readonly levels: number) {}
  json = () => `${'{"a":'.repeat(this.levels)}"leaf"${'}'.repeat(this.levels)}`;
}
const toJson = (body: unknown): string =>
  JSON.stringify(body, (_key, value: unknown) =>
    value instanceof Deep ? `@@deep${value.levels}@@` : value,
  ).replace(/"@@deep(\d+)@@"/g, (_, levels: string) => new Deep(Number(levels)).json());
const post = (url: string, body: unknown) =>
  api.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json' },
    payload: toJson(body),
  });
const countRuns = async () =>
  (await env.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM runs')).rows[0]!.n;

/** Bodies each of which must be refused with a 400 naming `field`. */
const POISONED: Array<{ name: string; body: unknown; field: RegExp }> = [
  {
    name: 'a lone surrogate in an args value',
    body: { task: 'diag.echo', args: { s: 'x\ud800' } },
    field: /^args\.s$/,
  },
  {
    name: 'a lone surrogate in an args key',
    body: { task: 'diag.echo', args: { ['k\udc00']: 1 } },
    field: /^args\[/,
  },
  { name: 'a NUL in args', body: { task: 'diag.echo', args: ['ok', 'a\u0000b'] }, field: /^args\.1$/ },
  { name: 'a NUL in a key of args', body: { task: 'diag.echo', args: { ['a\u0000']: 1 } }, field: /^args\[/ },
  {
    name: 'a lone surrogate in the idempotencyKey',
    body: { task: 'diag.echo', args: {}, idempotencyKey: 'key-\ud83d' },
    field: /^idempotencyKey$/,
  },
  {
    name: 'a NUL in the idempotencyKey',
    body: { task: 'diag.echo', idempotencyKey: 'k\u0000' },
    field: /^idempotencyKey$/,
  },
  { name: 'a NUL in the task name', body: { task: 'diag.echo\u0000' }, field: /^task$/ },
  {
    name: 'args 17 levels deep (API_MAX_JSON_DEPTH 16)',
    body: { task: 'diag.echo', args: nested(17) },
    field: /^args/,
  },
  { name: 'args 5,000 levels deep', body: { task: 'diag.echo', args: new Deep(5000) }, field: /^args/ },
  { name: 'a body 100,000 levels deep', body: new Deep(100_000), field: /^a/ },
  {
    name: 'args over API_MAX_ARGS_BYTES',
    body: { task: 'diag.echo', args: { s: 'x'.repeat(70_000) } },
    field: /^args$/,
  },
];

describe('text and shape checks', () => {
  it.each(POISONED)('refuses $name with a 400 naming the field, storing nothing', async ({ body, field }) => {
    const before = await countRuns();
    const response = await post(TASKS, body);
    expect(response.statusCode, response.body).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = response.json<Problem>();
    expect(problem.errors?.[0]?.field).toMatch(field);
    expect(await countRuns()).toBe(before);
  });

  it('names the setting behind a depth or size limit', async () => {
    expect((await post(TASKS, { task: 'diag.echo', args: nested(17) })).json<Problem>().detail).toContain(
      'API_MAX_JSON_DEPTH',
    );
    expect(
      (await post(TASKS, { task: 'diag.echo', args: { s: 'x'.repeat(70_000) } })).json<Problem>().detail,
    ).toContain('API_MAX_ARGS_BYTES');
  });

  it('stores text exactly as sent: non-BMP characters, combining marks and escapes round-trip', async () => {
    const args = { s: 'a😀\u0301\u2028\\u0000 "q"', ['ключ 🔑']: ['\ud83d\ude00'] };
    const accepted = await post(TASKS, { task: 'diag.echo', args, idempotencyKey: 'k-😀-\u00e9' });
    expect(accepted.statusCode, accepted.body).toBe(202);
    const run = await api.inject({
      method: 'GET',
      url: `/api/v1/runs/${accepted.json<{ id: number }>().id}`,
    });
    expect(run.json<{ args: unknown; idempotencyKey: string }>()).toMatchObject({
      args,
      idempotencyKey: 'k-😀-\u00e9',
    });
  });

  it('refuses a NUL or lone surrogate in query strings and path parameters, naming them', async () => {
    for (const [url, field] of [
      ['/api/v1/runs?task=diag%00echo', 'task'],
      ['/api/v1/schedules?task=%00', 'task'],
      ['/api/v1/runs?status=%00', 'status'],
      ['/api/v1/bot-configs/1/posts?subreddit=py%00', 'subreddit'],
    ] as const) {
      const response = await api.inject({ method: 'GET', url });
      expect(response.statusCode, `${url}: ${response.body}`).toBe(400);
      expect(response.json<Problem>().errors?.[0]?.field).toBe(field);
    }
    const path = await api.inject({ method: 'GET', url: '/api/v1/runs/%00' });
    expect(path.statusCode).toBe(400);
  });

  it('refuses bodies that are not UTF-8 JSON: invalid bytes (400), another charset or type (415)', async () => {
    const invalid = Buffer.concat([
      Buffer.from('{"task":"diag.echo","args":{"s":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}}'),
    ]);
    const bytes = await api.inject({
      method: 'POST',
      url: TASKS,
      headers: { 'content-type': 'application/json' },
      payload: invalid,
    });
    expect(bytes.statusCode).toBe(400);
    expect(bytes.json<Problem>().detail).toMatch(/UTF-8/);
    const latin1 = await api.inject({
      method: 'POST',
      url: TASKS,
      headers: { 'content-type': 'application/json; charset=latin1' },
      payload: '{"task":"diag.echo"}',
    });
    expect(latin1.statusCode).toBe(415);
    const text = await api.inject({
      method: 'POST',
      url: TASKS,
      headers: { 'content-type': 'text/plain' },
      payload: 'diag.echo',
    });
    expect(text.statusCode).toBe(415);
    expect(text.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('refuses a posts cursor beyond the largest date with a 400, not a 500', async () => {
    const bot = await post('/api/v1/bot-configs', {
      name: 'cursor-bot',
      subreddits: ['python'],
      autoScrapeEnabled: false,
      scrapeIntervalHours: 1,
    });
    expect(bot.statusCode, bot.body).toBe(201);
    const id = bot.json<{ id: number }>().id;
    for (const cursor of ['9999999999999999.1', '8640000000000001.5', '0.9999999999999999']) {
      const response = await api.inject({
        method: 'GET',
        url: `/api/v1/bot-configs/${id}/posts?cursor=${cursor}`,
      });
      expect(response.statusCode, `${cursor}: ${response.body}`).toBe(400);
      expect(response.json<Problem>().errors?.[0]?.field).toBe('cursor');
    }
    const fine = await api.inject({
      method: 'GET',
      url: `/api/v1/bot-configs/${id}/posts?cursor=8640000000000000.1`,
    });
    expect(fine.statusCode).toBe(200);
  });
});

describe('one bad request harms no other', () => {
  it('valid requests racing poisoned ones all get 202 and exactly one run each', async () => {
    const before = await countRuns();
    for (let round = 0; round < 4; round++) {
      const valid = Array.from({ length: 40 }, (_, i) => ({
        task: 'diag.echo',
        args: { marker: `r${round}-v${i}` },
      }));
      const requests = [
        ...valid.map((body) => ({ body, ok: true })),
        ...POISONED.map(({ body }) => ({ body, ok: false })),
      ].sort(() => Math.random() - 0.5);
      const responses = await Promise.all(requests.map(({ body }) => post(TASKS, body)));
      requests.forEach(({ ok }, i) =>
        expect(responses[i]!.statusCode, responses[i]!.body).toBe(ok ? 202 : 400),
      );
      const { rows } = await env.pool.query<{ marker: string; n: number }>(
        `SELECT args->>'marker' AS marker, count(*)::int AS n FROM runs WHERE args->>'marker' LIKE $1 GROUP BY 1`,
        [`r${round}-%`],
      );
      expect(rows).toHaveLength(40);
      expect(rows.every((r) => r.n === 1)).toBe(true);
    }
    expect(await countRuns()).toBe(before + 160);
  });

  it('when a shared INSERT fails for one member anyway, only that member gets the error', async () => {
    // Straight to the engine, past the API's checks: the database itself refuses the NUL.
    const outbox = new Outbox({ pool: env.pool, broker, logger: env.logger });
    const enqueuer = new Enqueuer({ pool: env.pool, outbox });
    const run = (args: unknown) => ({
      task: 'diag.echo',
      args,
      queue: 'default',
      maxRetries: 0,
      timeoutSeconds: 60,
    });
    const outcomes = await Promise.allSettled([
      ...Array.from({ length: 30 }, (_, i) => enqueuer.enqueue(run({ isolated: i }))),
      enqueuer.enqueue(run({ bad: 'nul\u0000' })),
      ...Array.from({ length: 30 }, (_, i) => enqueuer.enqueue(run({ isolated: 30 + i }))),
    ]);
    await enqueuer.drain();
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(1);
    expect(outcomes[30]!.status).toBe('rejected');
    const { rows } = await env.pool.query<{ n: number }>(
      `SELECT count(DISTINCT args->>'isolated')::int AS n FROM runs WHERE args ? 'isolated'`,
    );
    expect(rows[0]!.n).toBe(60);
  });
});

describe('slow and piled-up connections', () => {
  let slow: App;
  let slowBroker: Broker;
  let port: number;

  beforeAll(async () => {
    ({ api: slow, broker: slowBroker } = await startApi(env, {
      API_REQUEST_TIMEOUT_MS: '1500',
      API_MAX_CONNECTIONS: '4',
    }));
    await slow.listen({ port: 0, host: '127.0.0.1' });
    port = (slow.server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await slow?.close();
    await slowBroker?.stop();
  });

  const connect = () =>
    new Promise<Socket>((resolve, reject) => {
      const socket = createConnection({ port, host: '127.0.0.1' }, () => resolve(socket));
      socket.once('error', reject);
    });

  /** Everything the server sends until it closes the socket (or `deadlineMs` passes: a failure). */
  const untilClosed = (socket: Socket, deadlineMs: number) =>
    new Promise<string>((resolve, reject) => {
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      socket.once('close', () => resolve(received));
      setTimeout(
        () => reject(new Error(`still open after ${deadlineMs} ms; got ${JSON.stringify(received)}`)),
        deadlineMs,
      ).unref();
    });

  it('answers 408 and closes a request whose body never finishes, while others are served', async () => {
    const socket = await connect();
    const started = Date.now();
    socket.write(
      'POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"task":',
    );
    const closed = untilClosed(socket, 15_000);
    const meanwhile = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(meanwhile.status).toBe(200);
    const answer = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(answer).toMatch(/content-type: application\/problem\+json/i);
    expect(answer).toContain('API_REQUEST_TIMEOUT_MS');
    // 1.5 s timeout, checked every second: well under 15 s even on a loaded machine.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
  });

  it('answers oversized headers (431) and broken HTTP (400) with problem+json, then closes', async () => {
    for (const [request, status] of [
      [`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['NOT HTTP AT ALL\r\n\r\n', 400],
    ] as const) {
      const socket = await connect();
      socket.write(request);
      const answer = await untilClosed(socket, 10_000);
      expect(answer).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(answer).toMatch(/content-type: application\/problem\+json/i);
    }
  });

  it('closes connections beyond API_MAX_CONNECTIONS at once, and serves again when they go', async () => {
    const held = await Promise.all(Array.from({ length: 4 }, connect));
    const extra = await connect();
    expect(await untilClosed(extra, 5000)).toBe('');
    for (const socket of held) socket.destroy();
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200,
      {
        what: 'the API to accept connections again',
      },
    );
  });
});
