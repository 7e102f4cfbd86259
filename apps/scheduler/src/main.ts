import { runService } from '@tickwork/core';
import { Dispatcher } from './dispatcher.js';
import { WebhookService } from './webhooks.js';

runService({
  name: 'scheduler',
  // The dispatcher's, and the webhook relay's and sender's (short statements, one at a time each).
  poolSize: () => 6,
  metricsPort: true,
  start: ({ config, logger, pool, broker }) => {
    const dispatcher = new Dispatcher({
      pool,
      broker,
      logger,
      databaseUrl: config.databaseUrl,
      pollMs: config.dispatchPollMs,
      // After a database outage: two heartbeat intervals (the liveness window), a tick, and time to reconnect.
      reapGraceMs: 2 * config.heartbeatIntervalMs + config.dispatchPollMs + 5000,
    });
    dispatcher.start();
    const webhooks = new WebhookService({
      pool,
      logger,
      config: config.webhooks,
      retentionDays: config.runRetentionDays,
    });
    webhooks.start();
    logger.info('scheduler started');
    return Promise.resolve({
      stop: async () => {
        await webhooks.stop();
        await dispatcher.stop();
      },
    });
  },
});
