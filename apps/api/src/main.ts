import {
  Broker,
  ConfigError,
  createLogger,
  createPool,
  endPool,
  loadConfig,
  loadUserTasks,
  registerUserTasks,
  runUntilSignal,
} from '@tickwork/shared';
import { buildApp } from './app.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  registerUserTasks(await loadUserTasks(config.taskModules));
  if (config.nodeEnv === 'production' && !config.apiToken) {
    throw new ConfigError('API_TOKEN', 'is required when NODE_ENV=production');
  }
  const logger = createLogger({ level: config.logLevel, service: 'api' });
  if (!config.apiToken) {
    logger.warn(
      '!!! API_TOKEN is not set: the API accepts every request without authentication. Set API_TOKEN before exposing it. !!!',
    );
  }
  const pool = createPool(config.databaseUrl, logger, { max: 10, name: 'tickwork-api' });
  const broker = new Broker(config.amqpUrl, logger, 'tickwork-api');
  broker.start();
  const app = await buildApp({ pool, broker, logger, config });
  runUntilSignal(async () => {
    await app.close();
    await app.deps.enqueuer.drain();
    await broker.stop();
    await endPool(pool, logger);
  }, logger);
  await app.listen({ port: config.port, host: config.host });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(`api: invalid configuration: ${error.message}`);
  else console.error('api: failed to start:', error);
  process.exit(1);
});
