import {
  Broker,
  brokerOptions,
  ConfigError,
  createLogger,
  createPool,
  endPool,
  loadConfig,
  loadUserTasks,
  runUntilSignal,
  serveMetrics,
  type MetricsServer,
} from '@tickwork/core';
import { createWorker } from './create-worker.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const userTasks = await loadUserTasks(config.taskModules);
  const logger = createLogger({ level: config.logLevel, service: 'worker' });
  const pool = createPool(config.databaseUrl, logger, {
    max: config.workerConcurrency + 2,
    name: 'tickwork-worker',
  });
  const broker = new Broker(config.amqpUrl, logger, 'tickwork-worker', brokerOptions(config));
  const worker = createWorker(config, { pool, broker, logger }, userTasks);
  let metricsServer: MetricsServer | undefined;
  runUntilSignal(async () => {
    await worker.stop();
    await metricsServer?.close();
    await endPool(pool, logger);
  }, logger);
  if (config.metricsPort > 0)
    metricsServer = await serveMetrics(config.metricsPort, config.host, logger, {
      token: config.metricsToken,
    });
  await worker.start();
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(`worker: invalid configuration: ${error.message}`);
  else console.error('worker: failed to start:', error);
  process.exit(1);
});
