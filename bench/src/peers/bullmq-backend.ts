import {
  createPostgresBackend,
  createRedisBackend,
  DEFAULT_SCHEMA,
  quoteSchemaName,
  runMigrations,
  withBackend,
  type BackendClasses,
  type IQueueBackend,
  type RedisConnectionClient,
} from 'bullmq';
import pg from 'pg';
import * as common from './common.js';

/**
 * The stores BullMQ 6 runs on here: Redis (the usual one; keys under a unique prefix, deleted
 * afterwards) and BullMQ 6's PostgreSQL backend, in a database of its own (`tickwork_bench_bullmq`,
 * dropped first and afterwards).
 */
export type BullBackend = 'redis' | 'postgres';
const DATABASE = 'tickwork_bench_bullmq';

/** What a scenario needs of a backend: queue classes bound to it, and the connection they take. */
interface Bull<B extends IQueueBackend, C> {
  classes: BackendClasses<B, C>;
  connection: C;
  backend: BullBackend;
}
type Use<T> = <B extends IQueueBackend, C>(bull: Bull<B, C>) => Promise<T>;

interface RedisClient extends RedisConnectionClient {
  keys(pattern: string): Promise<string[]>;
  del(...keys: string[]): Promise<number>;
  quit(): Promise<unknown>;
}

/**
 * ioredis is an optional peer of BullMQ 6, so it is imported by a computed name: the bench still
 * type-checks and runs its other scenarios without it. BullMQ needs `maxRetriesPerRequest: null`.
 */
async function redisClient(): Promise<RedisClient> {
  const name = 'ioredis';
  type Ctor = new (url: string, options: Record<string, unknown>) => RedisClient;
  const driver = (await import(name).catch((cause: unknown) => {
    const hint = "add 'ioredis' (an optional peer of bullmq 6) to the bench, or use the postgres backend";
    throw new Error(`BullMQ on Redis: ${hint}`, { cause });
  })) as { default: Ctor };
  return new driver.default(common.redisUrl, { maxRetriesPerRequest: null, connectTimeout: 10_000 });
}

/**
 * Runs `use` against `backend`. The owner (the bench process, not a worker process) prepares the world
 * first (the database and BullMQ's schema) and removes it afterwards, with the keys under `prefix`.
 */
export async function withBull<T>(backend: BullBackend, owner: string | undefined, use: Use<T>): Promise<T> {
  if (backend === 'redis') {
    const client = await redisClient();
    try {
      return await use({ classes: withBackend(createRedisBackend), connection: client, backend });
    } finally {
      if (owner) {
        const keys = await client.keys(`${owner}:*`);
        if (keys.length > 0) await client.del(...keys);
      }
      await client.quit();
    }
  }
  if (owner) await common.recreateDatabase(DATABASE);
  // A pool BullMQ did not build must point search_path at BullMQ's schema itself.
  const pool = new pg.Pool({
    connectionString: common.databaseUrl(DATABASE),
    connectionTimeoutMillis: 10_000,
    options: `-c search_path=${quoteSchemaName(DEFAULT_SCHEMA)}`,
  });
  try {
    if (owner) {
      const client = await pool.connect();
      await runMigrations(client).finally(() => client.release());
    }
    return await use({ classes: withBackend(createPostgresBackend), connection: pool, backend });
  } finally {
    await pool.end();
    if (owner) await common.dropDatabase(DATABASE);
  }
}
