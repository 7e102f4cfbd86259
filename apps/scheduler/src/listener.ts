import pg from 'pg';
import { delay, endClient, QUERY_TIMEOUT_MS, type Logger } from '@tickwork/core';

/**
 * LISTENs on one channel over a dedicated session, reconnecting until stopped. Notifications are hints
 * (the dispatcher also polls), so one missed while reconnecting costs at most a poll interval.
 */
export class Listener {
  private client: pg.Client | undefined;
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly channel: string,
    private readonly onNotify: (payload: string | undefined) => void,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.loop ??= this.listen();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    if (this.client) await endClient(this.client);
    await this.loop;
  }

  private async listen(): Promise<void> {
    const signal = this.stopController.signal;
    while (!signal.aborted) {
      const client = new pg.Client({
        connectionString: this.databaseUrl,
        application_name: 'tickwork-listener',
        // Neither a connect nor LISTEN may hang for ever on a dark link: this loop must come round.
        connectionTimeoutMillis: 10_000,
        query_timeout: QUERY_TIMEOUT_MS,
      });
      const lost = new Promise<void>((resolve) => {
        client.once('end', resolve);
        client.on('error', (error) => {
          this.logger.warn({ err: error }, 'listener connection lost');
          resolve();
        });
      });
      client.on('notification', (n) => this.onNotify(n.payload));
      try {
        await client.connect();
        this.client = client;
        await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
        // Anything notified while we were away is found by the next tick.
        this.onNotify(undefined);
        await Promise.race([
          lost,
          new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true })),
        ]);
      } catch (error) {
        if (!signal.aborted) this.logger.warn({ err: error }, 'cannot LISTEN; retrying');
      }
      await endClient(client);
      await delay(1000, signal);
    }
  }
}
