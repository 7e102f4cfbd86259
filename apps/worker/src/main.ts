import { loadBotsConfig } from '@tickwork/bots';
import { loadTaskModules, runService } from '@tickwork/core';
import { workerFromConfig } from './create-worker.js';

runService({
  name: 'worker',
  poolSize: (config) => config.workerConcurrency + 2,
  metricsPort: true,
  start: async ({ config, logger, pool, broker }) => {
    const bots = loadBotsConfig(process.env);
    const moduleTasks = await loadTaskModules(config.taskModules);
    const worker = workerFromConfig(config, bots, { pool, broker, logger }, moduleTasks);
    await worker.start();
    return worker;
  },
});
