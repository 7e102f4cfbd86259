import pg from 'pg';
import { endClient, QUERY_TIMEOUT_MS } from '../db/pool.js';
import { delay } from '../lifecycle.js';
import type { Logger } from '../logger.js';

/** The channel writers NOTIFY while some event_listeners row is current (migration 0012). */
export const EVENTS_CHANNEL = 'tickwork_events';

/**
 * LISTENs on tickwork_events over one dedicated session, reconnecting (after a PostgreSQL restart, a
 * dropped link) until stopped. A notification is only a hint to read: `onWake` is also called after
 * each (re)connect, since anything committed while the session was away was not notified.
 */
export class NotifyListener {
  private client: pg.Client | undefined;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly onWake: () => void,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.loop ??= this.listen();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.client) await endClient(this.client);
    await this.loop;
  }

  private async listen(): Promise<void> {
    const signal = this.stopping.signal;
    // Settled even when stop() came while connecting: an abort listener added later would never fire.
    const stopped = new Promise<void>((resolve) =>
      signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    let failures = 0;
    while (!signal.aborted) {
      const client = new pg.Client({
        connectionString: this.databaseUrl,
        application_name: 'tickwork-events',
        // Neither a connect nor LISTEN may hang for ever on a dark link: this loop must come round.
        connectionTimeoutMillis: 10_000,
        query_timeout: QUERY_TIMEOUT_MS,
      });
      const lost = new Promise<void>((resolve) => {
        client.once('end', resolve);
        client.on('error', (error) => {
          if (!signal.aborted) this.logger.warn({ err: error }, 'event listener connection lost');
          resolve();
        });
      });
      client.on('notification', () => this.onWake());
      try {
        await client.connect();
        this.client = client;
        await client.query(`LISTEN ${EVENTS_CHANNEL}`);
        failures = 0;
        this.onWake();
        await Promise.race([lost, stopped]);
      } catch (error) {
        // Logged once per outage, not once a second.
        if (!signal.aborted && failures++ === 0)
          this.logger.warn({ err: error }, 'cannot LISTEN for events; retrying');
      }
      this.client = undefined;
      await endClient(client);
      await delay(1000, signal);
    }
  }
}
