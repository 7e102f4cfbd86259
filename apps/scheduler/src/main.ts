import {
  Broker,
  brokerOptions,
  ConfigError,
  createLogger,
  createPool,
  endPool,
  loadConfig,
  runUntilSignal,
  serveMetrics,
  type MetricsServer,
} from '@tickwork/core';
import { Dispatcher } from './dispatcher.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel, service: 'scheduler' });
  const pool = createPool(config.databaseUrl, logger, { max: 4, name: 'tickwork-scheduler' });
  const broker = new Broker(config.amqpUrl, logger, 'tickwork-scheduler', brokerOptions(config));
  const dispatcher = new Dispatcher({
    pool,
    broker,
    logger,
    databaseUrl: config.databaseUrl,
    pollMs: config.dispatchPollMs,
    // After a database outage: two heartbeat intervals (the liveness window), a tick, and time to reconnect.
    reapGraceMs: 2 * config.heartbeatIntervalMs + config.dispatchPollMs + 5000,
  });
  let metricsServer: MetricsServer | undefined;
  runUntilSignal(async () => {
    await dispatcher.stop();
    await metricsServer?.close();
    await endPool(pool, logger);
  }, logger);
  if (config.metricsPort > 0)
    metricsServer = await serveMetrics(config.metricsPort, config.host, logger, {
      token: config.metricsToken,
    });
  dispatcher.start();
  logger.info('scheduler started');
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(`scheduler: invalid configuration: ${error.message}`);
  else console.error('scheduler: failed to start:', error);
  process.exit(1);
});
