import { createServer } from 'node:net';
import type { TestEnv } from './env.js';
import { management } from './services.js';
import { GiveUp, waitFor } from './wait.js';

/*
 * What fault tests ask of a stack running as processes: its API over HTTP, its queues through the
 * management API, its runs in PostgreSQL.
 */

/** `{ host, port }` of a service URL, for a proxy's target. */
export function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  const fallback = u.protocol.startsWith('amqp') ? 5672 : 5432;
  return { host: u.hostname, port: u.port ? Number(u.port) : fallback };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Readiness {
  status: number;
  checks: { postgres: string; rabbitmq: string };
}

export async function readiness(port: number): Promise<Readiness> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as { checks: Readiness['checks'] };
  return { status: response.status, checks: body.checks };
}

/** Waits until /readyz answers `status` with the check `which` matching `state`. */
export function waitForReadiness(
  port: number,
  status: number,
  which?: { check: keyof Readiness['checks']; state: RegExp },
  timeoutMs = 60_000,
): Promise<Readiness> {
  return waitFor(
    async () => {
      const r = await readiness(port);
      return r.status === status && (!which || which.state.test(r.checks[which.check])) ? r : undefined;
    },
    { timeoutMs, intervalMs: 200, what: `/readyz to answer ${status} ${which ? which.check : ''}` },
  );
}

/** A JSON request to a spawned API (`path` under /api/v1). */
export async function apiRequest<T>(
  port: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** Posts `body(i)` one after another every `intervalMs` until stopped, keeping every answer. */
export function startPoster(port: number, body: (i: number) => Record<string, unknown>, intervalMs: number) {
  const answers: Array<{ status: number; id?: number; body: string }> = [];
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      answers.push(
        await postTask(port, body(i)).catch((error: unknown) => ({ status: 0, body: String(error) })),
      );
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    answers,
    /** Ids of the accepted runs so far. */
    ids: () => answers.flatMap((a) => (a.id === undefined ? [] : [a.id])),
    async stop() {
      stopped = true;
      await loop;
      return answers;
    },
  };
}

/**
 * Posts until the API accepts (202) and returns the run id: a 503 (the API cannot store the run just
 * now, e.g. on a pooled connection that went dark) creates nothing, so posting again is safe.
 */
export function postAccepted(
  port: number,
  body: Record<string, unknown>,
  timeoutMs = 60_000,
): Promise<number> {
  let last = '';
  return waitFor(
    async () => {
      const answer = await postTask(port, body);
      last = `${answer.status} ${answer.body}`;
      if (answer.status !== 202 && answer.status !== 503) throw new GiveUp(`POST /tasks answered ${last}`);
      return answer.id;
    },
    { timeoutMs, intervalMs: 200, what: 'POST /tasks to be accepted' },
  ).catch((error: unknown) => {
    throw error instanceof GiveUp ? error : new Error(`${(error as Error).message}; last answer: ${last}`);
  });
}

/** POST /api/v1/tasks on a spawned API; returns the status and the run id when accepted. */
export async function postTask(
  port: number,
  body: Record<string, unknown>,
): Promise<{ status: number; id?: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  const id = response.status === 202 ? (JSON.parse(text) as { id: number }).id : undefined;
  return { status: response.status, body: text, ...(id !== undefined ? { id } : {}) };
}

export interface QueueInfo {
  exists: boolean;
  messages: number;
  ready: number;
  unacked: number;
  consumers: number;
  arguments: Record<string, unknown>;
}

/** A queue of the test's vhost, from the management API (message counts lag by up to ~5 s). */
export async function queueInfo(env: TestEnv, queue: string): Promise<QueueInfo> {
  const response = await management(
    env.managementUrl,
    'GET',
    `/api/queues/${encodeURIComponent(env.name)}/${encodeURIComponent(queue)}`,
  );
  if (response.status === 404) {
    return { exists: false, messages: 0, ready: 0, unacked: 0, consumers: 0, arguments: {} };
  }
  if (!response.ok) throw new Error(`management API answered ${response.status}`);
  const q = (await response.json()) as {
    messages?: number;
    messages_ready?: number;
    messages_unacknowledged?: number;
    consumers?: number;
    arguments?: Record<string, unknown>;
  };
  return {
    exists: true,
    messages: q.messages ?? 0,
    ready: q.messages_ready ?? 0,
    unacked: q.messages_unacknowledged ?? 0,
    consumers: q.consumers ?? 0,
    arguments: q.arguments ?? {},
  };
}

export async function deleteQueue(env: TestEnv, queue: string): Promise<void> {
  const response = await management(
    env.managementUrl,
    'DELETE',
    `/api/queues/${encodeURIComponent(env.name)}/${encodeURIComponent(queue)}`,
  );
  if (!response.ok) throw new Error(`cannot delete queue ${queue}: ${response.status}`);
}

/** Runs in `ids` that are not yet `status`, with their status (empty once all are). */
export async function runsNotIn(env: TestEnv, ids: number[], status: string) {
  const { rows } = await env.pool.query<{ id: number; status: string; attempts: number }>(
    'SELECT id, status, attempts FROM runs WHERE id = ANY($1) AND status <> $2 ORDER BY id',
    [ids, status],
  );
  return rows;
}

/** Waits until every run in `ids` succeeded. */
export function waitForAllSucceeded(env: TestEnv, ids: number[], timeoutMs = 60_000): Promise<true> {
  return waitFor(async () => (await runsNotIn(env, ids, 'succeeded')).length === 0 || undefined, {
    timeoutMs,
    intervalMs: 200,
    what: `runs ${ids.join(',')} to succeed`,
  }).catch(async (error: unknown) => {
    const pending = await runsNotIn(env, ids, 'succeeded');
    throw new Error(`${(error as Error).message}; still: ${JSON.stringify(pending)}`);
  });
}
