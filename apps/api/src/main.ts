import {
  Broker,
  brokerOptions,
  ConfigError,
  createLogger,
  createPool,
  endPool,
  loadConfig,
  loadUserTasks,
  registerUserTasks,
  runUntilSignal,
} from '@tickwork/core';
import { buildApp } from './app.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  registerUserTasks(await loadUserTasks(config.taskModules));
  if (config.nodeEnv === 'production' && config.apiTokens.length === 0) {
    throw new ConfigError(
      'API_TOKEN',
      'is required when NODE_ENV=production (or at least one name:role:secret in API_TOKENS)',
    );
  }
  const logger = createLogger({ level: config.logLevel, service: 'api' });
  if (config.apiTokens.length === 0) {
    logger.warn(
      '!!! API_TOKEN is not set (nor API_TOKENS): the API accepts every request without authentication, as admin. Set API_TOKEN before exposing it. !!!',
    );
  }
  const pool = createPool(config.databaseUrl, logger, { max: 10, name: 'tickwork-api' });
  const broker = new Broker(config.amqpUrl, logger, 'tickwork-api', brokerOptions(config));
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
