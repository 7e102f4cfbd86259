import pg from 'pg';
import { BOTS_MIGRATIONS } from '@tickwork/bots/migrations';
import { ensureDatabase, migrate } from '@tickwork/core';
import { createDiagTable } from '../../test/support/diag-record.js';
import { management, withDatabase, withVhost } from '../../test/support/services.js';
import { startTcpProxy, type TcpProxy } from '../../test/support/tcp-proxy.js';

/**
 * The soak's own world: database and vhost `tickwork_chaos` (dropped first, kept afterwards for
 * inspection), and one TCP proxy in front of PostgreSQL and one in front of RabbitMQ, through which
 * every service connects, so that the fault injector can cut or stall them.
 */
export const WORLD = 'tickwork_chaos';
const pgAdmin = process.env.CHAOS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const amqpBase = process.env.CHAOS_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const managementUrl =
  process.env.CHAOS_RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';

/** Direct URLs, for the soak's own checks: they never go through the proxies. */
export const databaseUrl = withDatabase(pgAdmin, WORLD);
export const amqpUrl = withVhost(amqpBase, WORLD);

async function mgmt(method: string, path: string, body?: unknown): Promise<void> {
  const response = await management(managementUrl, method, path, body);
  if (!response.ok && response.status !== 404) throw new Error(`${method} ${path}: ${response.status}`);
}

/**
 * Drops the database and the vhost, recreates the vhost and applies every migration; then creates
 * diag_executions, diag.record's table (test support, not a migration's: test/support/diag-record.ts).
 */
export async function resetWorld(): Promise<void> {
  const admin = new pg.Client({ connectionString: pgAdmin });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${WORLD} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  await mgmt('DELETE', `/api/vhosts/${WORLD}`);
  await mgmt('PUT', `/api/vhosts/${WORLD}`);
  const user = decodeURIComponent(new URL(amqpBase).username || 'guest');
  await mgmt('PUT', `/api/permissions/${WORLD}/${user}`, { configure: '.*', write: '.*', read: '.*' });
  await ensureDatabase(databaseUrl);
  await migrate(databaseUrl, undefined, [BOTS_MIGRATIONS]);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await createDiagTable(db);
  } finally {
    await db.end();
  }
}

/**
 * An observer the soak adds to its own database (not a migration): every status change of a run, with
 * the time of the transaction that made it. "Executed again after success" is read from it: a run that
 * leaves `succeeded`, or a diag.record execution that started after the run first succeeded.
 */
export async function installObserver(db: pg.Pool): Promise<void> {
  await db.query(`
    CREATE TABLE chaos_run_events (
      id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      run_id      bigint      NOT NULL,
      from_status text,
      to_status   text        NOT NULL,
      attempts    integer     NOT NULL,
      worker_id   uuid,
      at          timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX chaos_run_events_run_idx ON chaos_run_events (run_id);
    CREATE FUNCTION chaos_record_run_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO chaos_run_events (run_id, from_status, to_status, attempts, worker_id)
      VALUES (NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status, NEW.attempts, NEW.worker_id);
      RETURN NULL;
    END $$;
    CREATE TRIGGER chaos_run_inserted AFTER INSERT ON runs
      FOR EACH ROW EXECUTE FUNCTION chaos_record_run_event();
    CREATE TRIGGER chaos_run_status_changed AFTER UPDATE OF status ON runs
      FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION chaos_record_run_event();
  `);
}

export interface Proxies {
  postgres: TcpProxy;
  rabbitmq: TcpProxy;
  /** What a service process gets: the proxied URLs. */
  serviceEnv: Record<string, string>;
  restore(): void;
  close(): Promise<void>;
}

export async function startProxies(): Promise<Proxies> {
  const pgTarget = new URL(databaseUrl);
  const amqpTarget = new URL(amqpUrl);
  const postgres = await startTcpProxy({ host: pgTarget.hostname, port: Number(pgTarget.port || 5432) });
  const rabbitmq = await startTcpProxy({ host: amqpTarget.hostname, port: Number(amqpTarget.port || 5672) });
  return {
    postgres,
    rabbitmq,
    serviceEnv: {
      DATABASE_URL: postgres.via(databaseUrl),
      AMQP_URL: rabbitmq.via(amqpUrl),
      RABBITMQ_MANAGEMENT_URL: managementUrl,
    },
    restore() {
      postgres.restore();
      rabbitmq.restore();
    },
    async close() {
      await Promise.all([postgres.close(), rabbitmq.close()]);
    },
  };
}
