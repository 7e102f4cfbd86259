import { execFileSync } from 'node:child_process';
import pg from 'pg';

/** Where the test suite finds PostgreSQL and RabbitMQ: env overrides, else the contract's defaults. */
export interface ServiceUrls {
  /** An admin connection (database `postgres`) on the test server. */
  postgresUrl: string;
  amqpUrl: string;
  managementUrl: string;
}

export const defaultServiceUrls = (): ServiceUrls => ({
  postgresUrl: withDatabase(
    process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    'postgres',
  ),
  amqpUrl: process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  managementUrl: process.env.TEST_RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672',
});

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export function withVhost(amqpUrl: string, vhost: string): string {
  const u = new URL(amqpUrl);
  u.pathname = `/${encodeURIComponent(vhost)}`;
  return u.toString();
}

export async function postgresReachable(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Calls the RabbitMQ management HTTP API with the URL's credentials. */
export async function management(
  managementUrl: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  const u = new URL(managementUrl);
  const auth = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString(
    'base64',
  );
  u.username = '';
  u.password = '';
  return fetch(new URL(path.replace(/^\//, ''), u.toString().replace(/\/?$/, '/')), {
    method,
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
}

export async function managementReachable(managementUrl: string): Promise<string | undefined> {
  try {
    const response = await management(managementUrl, 'GET', '/api/overview');
    return response.ok ? undefined : `management API answered ${response.status}`;
  } catch (error) {
    return (error as Error).message;
  }
}

export function dockerAvailable(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}
