import { Broker, ConfigError, createLogger, createPool, loadConfig, runUntilSignal } from '@tickwork/shared';
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
  });
  runUntilSignal(async () => {
    await dispatcher.stop();
    await pool.end();
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
