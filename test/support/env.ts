import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createLogger, createPool, loadConfig, type Config, type Logger, type Pool } from '@tickwork/core';
import { createDiagTable } from './diag-record.js';
import { management, withDatabase, withVhost } from './services.js';

/** One test file's private world: a database cloned from the migrated template, and a RabbitMQ vhost. */
export interface TestEnv {
  name: string;
  databaseUrl: string;
  amqpUrl: string;
  managementUrl: string;
  pool: Pool;
  logger: Logger;
  /** The environment a service process of this test would get; overrides win. */
  processEnv(overrides?: Record<string, string>): Record<string, string>;
  /** The Config an in-process service of this test would load. */
  config(overrides?: Record<string, string>): Config;
  cleanup(): Promise<void>;
}

export async function createTestEnv(): Promise<TestEnv> {
  const services = inject('services');
  const template = inject('templateDatabase');
  const name = `tw_test_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: services.postgresUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  const vhost = await management(services.managementUrl, 'PUT', `/api/vhosts/${name}`);
  if (!vhost.ok) throw new Error(`cannot create vhost ${name}: ${vhost.status}`);
  const user = decodeURIComponent(new URL(services.amqpUrl).username || 'guest');
  const permissions = await management(services.managementUrl, 'PUT', `/api/permissions/${name}/${user}`, {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
  if (!permissions.ok) throw new Error(`cannot grant ${user} on vhost ${name}: ${permissions.status}`);

  const databaseUrl = withDatabase(services.postgresUrl, name);
  const amqpUrl = withVhost(services.amqpUrl, name);
  const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', service: 'test' });
  const pool = createPool(databaseUrl, logger, { max: 15, name: 'tickwork-test' });
  // The database is a clone of the migrated template; diag.record's table is test support's, not a
  // migration's (test/support/diag-record.ts).
  await createDiagTable(pool);

  const processEnv = (overrides: Record<string, string> = {}) => ({
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    AMQP_URL: amqpUrl,
    RABBITMQ_MANAGEMENT_URL: services.managementUrl,
    LOG_LEVEL: 'info',
    HEARTBEAT_INTERVAL_MS: '500',
    RETRY_BACKOFF_BASE_MS: '100',
    RETRY_BACKOFF_MAX_MS: '1000',
    DISPATCH_POLL_MS: '500',
    // Test receivers listen on 127.0.0.1; test/webhooks.test.ts sets false to see refusals.
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
    ...overrides,
  });

  return {
    name,
    databaseUrl,
    amqpUrl,
    managementUrl: services.managementUrl,
    pool,
    logger,
    processEnv,
    config: (overrides = {}) => loadConfig(processEnv(overrides)),
    async cleanup() {
      await pool.end().catch(() => undefined);
      const client = new pg.Client({ connectionString: services.postgresUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
      await management(services.managementUrl, 'DELETE', `/api/vhosts/${name}`).catch(() => undefined);
    },
  };
}
