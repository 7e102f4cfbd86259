import pg from 'pg';
import { delay, endClient, QUERY_TIMEOUT_MS, WORKER_LOCK_NAMESPACE, type Logger } from '@tickwork/core';

/**
 * Holds the worker's advisory lock on a dedicated PostgreSQL session: the lock lives exactly as long as
 * the session, so the reaper sees a killed worker at once. Reconnects (and re-locks) until stopped.
 */
export class Presence {
  private client: pg.Client | undefined;
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly lockKey: number,
    private readonly logger: Logger,
  ) {}

  start(): Promise<void> {
    return new Promise((resolve) => {
      this.loop = this.hold(resolve);
    });
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    // Bounded: on a dark link the server's goodbye never comes, and a stopping worker must not hang.
    if (this.client) await endClient(this.client);
    await this.loop;
  }

  private async hold(onFirstLock: () => void): Promise<void> {
    const signal = this.stopController.signal;
    while (!signal.aborted) {
      const client = new pg.Client({
        connectionString: this.databaseUrl,
        application_name: 'tickwork-worker-presence',
        connectionTimeoutMillis: 10_000,
        query_timeout: QUERY_TIMEOUT_MS,
      });
      const lost = new Promise<void>((resolve) => {
        client.once('end', resolve);
        client.on('error', (error) => {
          this.logger.warn({ err: error }, 'presence connection lost');
          resolve();
        });
      });
      try {
        await client.connect();
        this.client = client;
        await client.query('SELECT pg_advisory_lock($1, $2)', [WORKER_LOCK_NAMESPACE, this.lockKey]);
        onFirstLock();
        await Promise.race([
          lost,
          new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true })),
        ]);
      } catch (error) {
        this.logger.warn({ err: error }, 'cannot hold presence lock; retrying');
      }
      await endClient(client);
      await delay(500, signal);
    }
  }
}
