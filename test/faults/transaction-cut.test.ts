import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createPool, isDatabaseUnavailable, withTransaction, type Pool } from '@tickwork/core';
import { createTestEnv, type TestEnv } from '../support/env.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';

/**
 * A connection cut in the middle of a transaction: pg emits 'error' on a checked-out client, which
 * pg-pool leaves without a listener, and an unhandled 'error' event ends the process. (The chaos soak
 * found this: the scheduler crashed on PostgreSQL cuts.)
 */
let env: TestEnv;
let proxy: TcpProxy;
let pool: Pool;

beforeAll(async () => {
  env = await createTestEnv();
  const target = new URL(env.databaseUrl);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  pool = createPool(proxy.via(env.databaseUrl), createLogger({ level: 'silent', service: 'test' }), {
    max: 2,
  });
});

afterAll(async () => {
  await pool?.end().catch(() => undefined);
  await proxy?.close();
  await env?.cleanup();
});

describe('withTransaction on a connection that is cut', () => {
  it('rejects with a database-unavailable error and leaves the process (and the pool) working', async () => {
    // Longer than it can take to see it running: the cut must land inside the transaction's query.
    const running = withTransaction(pool, (client) => client.query('SELECT pg_sleep(60)'));
    await waitFor(
      async () => {
        const { rows } = await env.pool.query(
          `SELECT 1 FROM pg_stat_activity
           WHERE datname = current_database() AND state = 'active' AND query = 'SELECT pg_sleep(60)'`,
        );
        return rows.length === 1;
      },
      { what: 'the transaction to run its query' },
    );
    proxy.cut();
    const error = await running.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(error)).toBe(true);
    // The broken client was discarded: the next transaction gets a fresh connection.
    const { rows } = await withTransaction(pool, (client) => client.query<{ ok: number }>('SELECT 1 AS ok'));
    expect(rows).toEqual([{ ok: 1 }]);
  });
});
