import {
  Broker,
  ConfigError,
  createLogger,
  createPool,
  endPool,
  loadConfig,
  runUntilSignal,
} from '@tickwork/shared';
import { Dispatcher } from './dispatcher.js';

function main(): void {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel, service: 'scheduler' });
  const pool = createPool(config.databaseUrl, logger, { max: 4, name: 'tickwork-scheduler' });
  const broker = new Broker(config.amqpUrl, logger, 'tickwork-scheduler');
  const dispatcher = new Dispatcher({
    pool,
    broker,
    logger,
    databaseUrl: config.databaseUrl,
    pollMs: config.dispatchPollMs,
    // After a database outage: two heartbeat intervals (the liveness window), a tick, and time to reconnect.
    reapGraceMs: 2 * config.heartbeatIntervalMs + config.dispatchPollMs + 5000,
  });
  runUntilSignal(async () => {
    await dispatcher.stop();
    await endPool(pool, logger);
  }, logger);
  dispatcher.start();
  logger.info('scheduler started');
}

try {
  main();
} catch (error) {
  if (error instanceof ConfigError) console.error(`scheduler: invalid configuration: ${error.message}`);
  else console.error('scheduler: failed to start:', error);
  process.exit(1);
}
