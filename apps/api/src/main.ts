import { ConfigError, contractOf, loadTaskModules, runService } from '@tickwork/core';
import { botsApiExtension } from '@tickwork/bots/api';
import { buildApp } from './app.js';

runService({
  name: 'api',
  poolSize: () => 10,
  // The API serves /metrics on its own port.
  metricsPort: false,
  start: async ({ config, logger, pool, broker }) => {
    if (config.nodeEnv === 'production' && config.apiTokens.length === 0) {
      throw new ConfigError(
        'API_TOKEN',
        'is required when NODE_ENV=production (or at least one name:role:secret in API_TOKENS)',
      );
    }
    if (config.apiTokens.length === 0) {
      logger.warn(
        '!!! API_TOKEN is not set (nor API_TOKENS): the API accepts every request without authentication, as admin. Set API_TOKEN before exposing it. !!!',
      );
    }
    // Optional here: the API accepts what workers register in the catalogue. Modules named anyway are
    // accepted before any worker serving them starts.
    const contracts = (await loadTaskModules(config.taskModules)).map(contractOf);
    broker.start();
    const app = await buildApp({ pool, broker, logger, config, contracts, extensions: [botsApiExtension] });
    await app.listen({ port: config.port, host: config.host });
    return {
      stop: async () => {
        await app.close();
        await app.deps.enqueuer.drain();
      },
    };
  },
});
