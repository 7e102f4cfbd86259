import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { percentile, TimedOut, until } from '../support.js';

/**
 * What the peer scenarios share: where the services are, a world of their own (a database or a
 * uniquely named queue, removed afterwards), deadlines, and consumer processes of their own, as the
 * Tickwork figures have their worker in a process apart from the producer.
 */
export const pgAdminUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** No path: RabbitMQ's default vhost `/`; the raw baseline uses a uniquely named queue in it. */
export const amqpUrl = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const databaseUrl = (database: string) =>
  Object.assign(new URL(pgAdminUrl), { pathname: `/${database}` }).toString();

async function admin<T>(body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: pgAdminUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/**
 * `database` must be a plain identifier: it is spliced into the SQL. FORCE ends sessions left over,
 * but first give closing ones a moment: `pool.end()` resolves before its sockets are closed, and a
 * session ended by force makes its client print an error.
 */
export async function dropDatabase(database: string): Promise<void> {
  await admin(async (client) => {
    const sessions = async () =>
      (await client.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1`, [database])).rowCount;
    await until(async () => (await sessions()) === 0, 3000, 'sessions to close').catch(() => undefined);
    await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });
}

export async function recreateDatabase(database: string): Promise<void> {
  await dropDatabase(database);
  await admin((client) => client.query(`CREATE DATABASE ${database}`));
}

/** Wall-clock milliseconds, comparable across processes on this machine, finer than Date.now(). */
export const now = () => performance.timeOrigin + performance.now();
export const uniqueName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Settles as `promise` does, or rejects with TimedOut after `ms`; the timer never outlives it. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimedOut(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Calls `send(from, count)` for consecutive chunks of `total`, with up to `inflight` of them running. */
export async function inChunks(
  total: number,
  size: number,
  inflight: number,
  send: (from: number, count: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < total) {
      const from = next;
      next += size;
      await send(from, Math.min(size, total - from));
    }
  };
  await Promise.all(Array.from({ length: inflight }, lane));
}

/** Lateness percentiles in ms (one decimal); `count` says how many fires they summarise. */
export function latenessMetrics(values: number[]): Record<string, number> {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    count: sorted.length,
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted.at(-1) ?? Number.NaN),
  };
}

/** What a consumer process tells the bench over IPC. */
export type ChildMessage =
  { type: 'ready' } | { type: 'done'; at: number } | { type: 'error'; message: string };

/** The consumer process's side of the IPC channel, handed to its role by `child.ts`. */
export interface ChildIo {
  tell(message: ChildMessage): void;
  /** Resolves when the bench asks the process to stop, or has gone away. */
  stopped: Promise<void>;
}

const childScript = fileURLToPath(new URL('./child.ts', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));

/** A consumer process (`child.ts <role>`), with the messages it sent kept until they are awaited. */
export class Child {
  private readonly inbox: ChildMessage[] = [];
  private readonly child: ChildProcess;
  private exit: string | undefined;
  private notify: () => void = () => undefined;

  constructor(
    private readonly role: string,
    args: object,
  ) {
    this.child = fork(childScript, [role, JSON.stringify(args)], {
      cwd: root,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (message: ChildMessage) => {
      this.inbox.push(message);
      this.notify();
    });
    this.child.on('exit', (code, signal) => {
      this.exit = `${code ?? signal}`;
      this.notify();
    });
  }

  /** The next message of `type`; rejects on an 'error' message, an early exit or the deadline. */
  async wait<T extends ChildMessage['type']>(
    type: T,
    ms: number,
  ): Promise<Extract<ChildMessage, { type: T }>> {
    const take = (): Extract<ChildMessage, { type: T }> | undefined => {
      const failure = this.inbox.find((m) => m.type === 'error');
      if (failure?.type === 'error') throw new Error(`${this.role} process: ${failure.message}`);
      const index = this.inbox.findIndex((m) => m.type === type);
      if (index >= 0) return this.inbox.splice(index, 1)[0] as Extract<ChildMessage, { type: T }>;
      if (this.exit !== undefined) throw new Error(`${this.role} process exited early (${this.exit})`);
      return undefined;
    };
    const arrived = new Promise<Extract<ChildMessage, { type: T }>>((resolve, reject) => {
      this.notify = () => {
        try {
          const message = take();
          if (message) resolve(message);
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      };
      this.notify();
    });
    return within(arrived, ms, `${this.role} ${type}`);
  }

  /** Throws if the process has exited: a dead consumer would otherwise show up only as a timeout. */
  assertAlive(): void {
    if (this.exit !== undefined) throw new Error(`${this.role} process exited early (${this.exit})`);
  }

  /** Asks the process to close its connections and exit; SIGKILL if it has not within `ms`. */
  async stop(ms = 15_000): Promise<void> {
    if (this.exit !== undefined) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.send({ type: 'stop' });
    else this.child.kill('SIGTERM');
    await within(exited, ms, `${this.role} exit`).catch(async () => {
      this.child.kill('SIGKILL');
      await exited;
    });
  }
}

/** A `check` for `until`: fails the wait at once when `failure()` says why, or a process died. */
export const failFast = (children: Child[], failure: () => string | undefined) => () => {
  const why = failure();
  if (why) throw new Error(why);
  for (const child of children) child.assertAlive();
};

/** Stops every child, even when one of them fails to stop. */
export async function stopAll(children: Child[]): Promise<void> {
  await Promise.allSettled(children.map((child) => child.stop()));
}
