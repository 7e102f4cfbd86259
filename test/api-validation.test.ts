import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '@tickwork/core';
import type { App } from '../apps/api/src/app.js';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startApi } from './support/stack.js';

let env: TestEnv;
let api: App;
let broker: Broker;

beforeAll(async () => {
  env = await createTestEnv();
  ({ api, broker } = await startApi(env));
});

afterAll(async () => {
  await api?.close();
  await broker?.stop();
  await env?.cleanup();
});

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface BadRequestCase {
  name: string;
  method: Method;
  url: string;
  /** A JSON value, sent as application/json. */
  json?: unknown;
  /** A raw body, sent as is with `headers`. */
  raw?: string;
  headers?: Record<string, string>;
  /** The exact status expected; any 4xx when omitted. */
  status?: number;
  /** Field names that `errors` must name. */
  fields?: string[];
}

interface ProblemBody {
  type: unknown;
  title: unknown;
  status: unknown;
  detail: unknown;
  errors?: Array<{ field: unknown; message: unknown }>;
}

const TASKS = '/api/v1/tasks';
const sleep = (args: unknown, extra: Record<string, unknown> = {}) => ({
  task: 'diag.sleep',
  args,
  ...extra,
});
const echo = (extra: Record<string, unknown>) => ({ task: 'diag.echo', args: { ok: true }, ...extra });
const post = (name: string, json: unknown, status: number, fields?: string[]): BadRequestCase => ({
  name,
  method: 'POST',
  url: TASKS,
  json,
  status,
  ...(fields ? { fields } : {}),
});
const get = (name: string, url: string, status: number, fields?: string[]): BadRequestCase => ({
  name,
  method: 'GET',
  url,
  status,
  ...(fields ? { fields } : {}),
});

const CASES: BadRequestCase[] = [
  // The body as a whole.
  {
    name: 'malformed JSON',
    method: 'POST',
    url: TASKS,
    raw: '{"task": "diag.echo",',
    headers: { 'content-type': 'application/json' },
    status: 400,
  },
  {
    name: 'JSON with a trailing garbage token',
    method: 'POST',
    url: TASKS,
    raw: '{"task": "diag.echo"} x',
    headers: { 'content-type': 'application/json' },
    status: 400,
  },
  {
    name: 'a text/plain body',
    method: 'POST',
    url: TASKS,
    raw: 'task=diag.echo',
    headers: { 'content-type': 'text/plain' },
    // Fastify parses text/plain as a string, which then fails the body schema: 400 or 415 are both fine.
  },
  {
    name: 'a form-encoded body',
    method: 'POST',
    url: TASKS,
    raw: 'task=diag.echo',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    status: 415,
  },
  {
    name: 'an empty body declared as JSON',
    method: 'POST',
    url: TASKS,
    raw: '',
    headers: { 'content-type': 'application/json' },
    status: 400,
  },
  { name: 'no body at all', method: 'POST', url: TASKS, status: 400 },
  post('a JSON array as the body', [{ task: 'diag.echo' }], 400),
  post('a JSON string as the body', 'diag.echo', 400),
  post('JSON null as the body', null, 400),
  post('a JSON number as the body', 42, 400),
  {
    name: 'a __proto__ key (prototype pollution)',
    method: 'POST',
    url: TASKS,
    raw: '{"task":"diag.echo","__proto__":{"polluted":true}}',
    headers: { 'content-type': 'application/json' },
    status: 400,
  },
  {
    name: 'a body over 1 MiB',
    method: 'POST',
    url: TASKS,
    raw: JSON.stringify({ task: 'diag.echo', args: { blob: 'x'.repeat(1024 * 1024 + 10) } }),
    headers: { 'content-type': 'application/json' },
    status: 413,
  },

  // task
  post('an empty object (task missing)', {}, 400, ['task']),
  post('args without a task', { args: { ms: 1 } }, 400, ['task']),
  post('an unknown task', { task: 'no.such.task', args: {} }, 400, ['task']),
  post('task is a number', { task: 42 }, 400, ['task']),
  post('task is null', { task: null }, 400, ['task']),
  post('task is an empty string', { task: '' }, 400, ['task']),
  post('task is an array', { task: ['diag.echo'] }, 400, ['task']),
  post('task name longer than 200 characters', { task: 'x'.repeat(201) }, 400, ['task']),

  // args against the task's schema
  post('diag.sleep with negative ms', sleep({ ms: -1 }), 400, ['args.ms']),
  post('diag.sleep with ms as a string', sleep({ ms: '5' }), 400, ['args.ms']),
  post('diag.sleep with fractional ms', sleep({ ms: 1.5 }), 400, ['args.ms']),
  post('diag.sleep with ms beyond a day', sleep({ ms: 86_400_001 }), 400, ['args.ms']),
  post('diag.sleep with an extra property', sleep({ ms: 5, extra: true }), 400, ['args.extra']),
  post('diag.sleep without args', { task: 'diag.sleep' }, 400, ['args.ms']),
  post('diag.sleep with args as an array', sleep([5]), 400),
  post('diag.sleep with args null', sleep(null), 400, ['args']),
  post(
    'diag.flaky with failUntilAttempt as a string',
    { task: 'diag.flaky', args: { failUntilAttempt: 'x' } },
    400,
    ['args.failUntilAttempt'],
  ),
  post(
    'cleanup.runs with negative olderThanDays',
    { task: 'cleanup.runs', args: { olderThanDays: -3 } },
    400,
    ['args.olderThanDays'],
  ),

  // timing
  post('negative delaySeconds', echo({ delaySeconds: -1 }), 400, ['delaySeconds']),
  post('delaySeconds as a string', echo({ delaySeconds: '10' }), 400, ['delaySeconds']),
  post('delaySeconds beyond a year', echo({ delaySeconds: 366 * 24 * 3600 + 1 }), 400, ['delaySeconds']),
  post('delaySeconds and runAt together', echo({ delaySeconds: 5, runAt: '2030-01-01T00:00:00Z' }), 400, [
    'runAt',
  ]),
  post('runAt in words', echo({ runAt: 'tomorrow' }), 400, ['runAt']),
  post('runAt as a date without a time', echo({ runAt: '2030-01-01' }), 400, ['runAt']),
  post('runAt with month 13', echo({ runAt: '2030-13-01T00:00:00Z' }), 400, ['runAt']),
  post('runAt as epoch milliseconds', echo({ runAt: 1_900_000_000_000 }), 400, ['runAt']),

  // run options
  post('negative maxRetries', echo({ maxRetries: -1 }), 400, ['maxRetries']),
  post('fractional maxRetries', echo({ maxRetries: 1.5 }), 400, ['maxRetries']),
  post('maxRetries too large', echo({ maxRetries: 1_000_000 }), 400, ['maxRetries']),
  post('timeoutSeconds 0', echo({ timeoutSeconds: 0 }), 400, ['timeoutSeconds']),
  post('timeoutSeconds negative', echo({ timeoutSeconds: -5 }), 400, ['timeoutSeconds']),
  post('a reserved queue name', echo({ queue: 'tickwork.dead' }), 400, ['queue']),
  post('a queue name with a slash', echo({ queue: 'a/b' }), 400, ['queue']),
  post('a queue name over 100 characters', echo({ queue: 'q'.repeat(101) }), 400, ['queue']),
  post('an unknown top-level field', echo({ urgency: 5 }), 400, ['urgency']),
  post('an empty idempotencyKey', echo({ idempotencyKey: '' }), 400, ['idempotencyKey']),
  post('an idempotencyKey over 200 characters', echo({ idempotencyKey: 'k'.repeat(201) }), 400, [
    'idempotencyKey',
  ]),
  post('an idempotencyKey that is a number', echo({ idempotencyKey: 7 }), 400, ['idempotencyKey']),

  // text PostgreSQL cannot store
  post('an idempotencyKey with a NUL character', echo({ idempotencyKey: 'a\u0000b' }), 400),
  post(
    'diag.echo args with a NUL character in a string',
    { task: 'diag.echo', args: { s: 'a\u0000b' } },
    400,
  ),
  post('diag.echo args with a NUL character in a key', { task: 'diag.echo', args: { 'a\u0000': 1 } }, 400),
  get('a task filter with a NUL character', '/api/v1/runs?task=a%00b', 400),

  // path ids
  get('a non-numeric run id', '/api/v1/runs/abc', 400, ['id']),
  get('run id 0', '/api/v1/runs/0', 400, ['id']),
  get('a negative run id', '/api/v1/runs/-1', 400, ['id']),
  get('a fractional run id', '/api/v1/runs/1.5', 400, ['id']),
  get('a run id beyond 2^53', '/api/v1/runs/99999999999999999999', 400, ['id']),
  { name: 'retry of a non-numeric run id', method: 'POST', url: '/api/v1/runs/abc/retry', status: 400 },
  { name: 'cancel of run id 0', method: 'POST', url: '/api/v1/runs/0/cancel', status: 400 },

  // list query strings
  get('an unknown status filter', '/api/v1/runs?status=bogus', 400, ['status']),
  get('limit 0', '/api/v1/runs?limit=0', 400, ['limit']),
  get('limit 9999', '/api/v1/runs?limit=9999', 400, ['limit']),
  get('a non-numeric limit', '/api/v1/runs?limit=ten', 400, ['limit']),
  get('a non-numeric cursor', '/api/v1/runs?cursor=xyz', 400, ['cursor']),
  get('a negative cursor', '/api/v1/runs?cursor=-5', 400, ['cursor']),
  get('a negative offset', '/api/v1/runs?offset=-1', 400, ['offset']),
  get('a non-numeric scheduleId', '/api/v1/runs?scheduleId=x', 400, ['scheduleId']),
  get('an empty task filter', '/api/v1/runs?task=', 400, ['task']),
  get('an unknown query parameter', '/api/v1/runs?colour=blue', 400),

  // routes and methods
  get('an unknown route under the prefix', '/api/v1/nope', 404),
  get('an unknown route outside the prefix', '/nope', 404),
  get('an unknown API version', '/api/v2/tasks', 404),
  { name: 'PUT on /tasks', method: 'PUT', url: TASKS, json: {} },
  { name: 'DELETE on /runs/:id', method: 'DELETE', url: '/api/v1/runs/1' },
  { name: 'PUT on /runs', method: 'PUT', url: '/api/v1/runs', json: {} },
  { name: 'GET on the POST-only /runs/:id/cancel', method: 'GET', url: '/api/v1/runs/1/cancel' },
];

async function send(c: BadRequestCase) {
  if (c.raw !== undefined) {
    return api.inject({ method: c.method, url: c.url, payload: c.raw, headers: c.headers ?? {} });
  }
  if (c.json !== undefined) {
    return api.inject({
      method: c.method,
      url: c.url,
      payload: JSON.stringify(c.json),
      headers: { 'content-type': 'application/json', ...c.headers },
    });
  }
  return api.inject({ method: c.method, url: c.url, headers: c.headers ?? {} });
}

describe('malformed requests', () => {
  it('has at least 30 distinct cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  it.each(CASES)('answers $name with a 4xx problem', async (c) => {
    const response = await send(c);
    const context = `${c.method} ${c.url} → ${response.statusCode} ${response.body.slice(0, 500)}`;
    if (c.status !== undefined) expect(response.statusCode, context).toBe(c.status);
    expect(response.statusCode, context).toBeGreaterThanOrEqual(400);
    expect(response.statusCode, context).toBeLessThan(500);
    expect(response.headers['content-type'], context).toMatch(/^application\/problem\+json\b/);

    const problem = response.json<ProblemBody>();
    expect(typeof problem.type, context).toBe('string');
    expect(typeof problem.title, context).toBe('string');
    expect(problem.title, context).not.toBe('');
    expect(problem.status, context).toBe(response.statusCode);
    expect(typeof problem.detail, context).toBe('string');
    expect(problem.detail, context).not.toBe('');

    if (c.fields) {
      expect(Array.isArray(problem.errors), context).toBe(true);
      const named = (problem.errors ?? []).map((e) => e.field);
      for (const error of problem.errors ?? []) {
        expect(typeof error.field, context).toBe('string');
        expect(typeof error.message, context).toBe('string');
      }
      expect(named, context).toEqual(expect.arrayContaining(c.fields));
    }
  });
});

describe('after the malformed requests', () => {
  it('has created no run', async () => {
    const { rows } = await env.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM runs');
    expect(rows[0]?.n).toBe(0);
  });

  it('still answers /healthz', async () => {
    const response = await api.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('still accepts a valid task, creating exactly one run', async () => {
    const response = await api.inject({
      method: 'POST',
      url: TASKS,
      payload: { task: 'diag.sleep', args: { ms: 5 }, delaySeconds: 60 },
    });
    expect(response.statusCode, response.body).toBe(202);
    const run = response.json<{ id: number; status: string; task: string }>();
    expect(run).toMatchObject({ task: 'diag.sleep', status: 'scheduled' });
    const { rows } = await env.pool.query<{ id: number }>('SELECT id FROM runs');
    expect(rows.map((r) => Number(r.id))).toEqual([run.id]);
  });
});
