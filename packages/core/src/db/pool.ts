import pg from 'pg';
import { settleWithin } from '../lifecycle.js';
import type { Logger } from '../logger.js';

// bigint ids and counts fit in a JS number for any realistic table; return numbers, not strings.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/**
 * How long a pooled query may wait for its answer. On a link that went dark (no FIN, no RST: a
 * failover, a NAT that lost its state) an answer never comes and TCP gives up only after ~15 minutes;
 * until then the client would stay checked out, and a few such clients exhaust the pool for good.
 * On timeout pg-pool discards the client (pool.query) or withTransaction does; a new connection follows.
 */
export const QUERY_TIMEOUT_MS = 15_000;

export function createPool(
  databaseUrl: string,
  logger: Logger,
  options: { max?: number; name?: string; queryTimeoutMs?: number } = {},
): Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    application_name: options.name ?? 'tickwork',
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    query_timeout: options.queryTimeoutMs ?? QUERY_TIMEOUT_MS,
    // A session whose client vanished mid-transaction (a dark link) would hold its row locks until the
    // server's TCP keepalive notices, hours by default; our transactions never idle for long.
    idle_in_transaction_session_timeout: 60_000,
  });
  // An idle client that loses its connection emits here; without a listener the process would crash.
  pool.on('error', (error) => logger.warn({ err: error }, 'PostgreSQL connection lost'));
  return pool;
}

/**
 * pool.end(), given up after `timeoutMs`: ending a connection waits for the server's goodbye, which
 * never comes on a dark link, and a stopping service must not hang on it (its sockets go with it).
 */
export async function endPool(pool: Pool, logger: Logger, timeoutMs = 5000): Promise<void> {
  if (!(await settleWithin(pool.end(), timeoutMs)))
    logger.warn('PostgreSQL connections did not close in time; leaving them');
}

/** client.end(), or after `timeoutMs` its socket destroyed: the same hang, for a dedicated session. */
export async function endClient(client: pg.Client, timeoutMs = 2000): Promise<void> {
  if (!(await settleWithin(client.end(), timeoutMs))) client.connection.stream.destroy();
}

/** A round trip to PostgreSQL (readiness). */
export async function pingDatabase(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}

/** Runs `fn` in a transaction on one client; rolls back on error. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // pg-pool listens for a client's 'error' only while it is idle; a connection dropped while checked
  // out emits one, which unheard would end the process. The running query rejects as well.
  const ignore = () => undefined;
  client.on('error', ignore);
  let result: T;
  try {
    await client.query('BEGIN');
    result = await fn(client);
    await client.query('COMMIT');
  } catch (error) {
    // A broken or hung connection must not go back to the pool, and a ROLLBACK on it would only wait
    // too: discard it (the server ends the transaction with the session). Else roll back.
    const broken = isDatabaseUnavailable(error)
      ? toError(error)
      : await client.query('ROLLBACK').then(() => undefined, toError);
    client.off('error', ignore);
    client.release(broken);
    throw error;
  }
  client.off('error', ignore);
  client.release();
  return result;
}

/** Socket errors and SQLSTATEs (class 08, shutdown, starting up, too many connections) of an unreachable database. */
const UNREACHABLE_CODES =
  /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|08...|57P0[123]|53300)$/;
/** What pg and pg-pool say, without a code, when a connection fails, drops or hangs. */
const UNREACHABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|not queryable/;

/**
 * True when `error` (or an error it wraps, as Drizzle does) means PostgreSQL could not be reached or
 * the connection broke: the request may succeed later, so callers answer 503 or retry, not 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.test(code)) return true;
    if (UNREACHABLE_MESSAGES.test(e.message)) return true;
  }
  return false;
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
