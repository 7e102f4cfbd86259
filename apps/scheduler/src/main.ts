import { runService } from '@tickwork/core';
import { Dispatcher } from './dispatcher.js';

runService({
  name: 'scheduler',
  poolSize: () => 4,
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
    logger.info('scheduler started');
    return Promise.resolve(dispatcher);
  },
});
