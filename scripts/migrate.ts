import { BOTS_MIGRATIONS } from '@tickwork/bots/migrations';
import { ConfigError, createLogger, ensureDatabase, loadConfig, maskUrl, migrate } from '@tickwork/core';

/**
 * `npm run migrate`: creates the database when missing and applies pending migrations: the engine's,
 * then its extensions' (the bots').
 */
try {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel, service: 'migrate', format: config.logFormat });
  if (await ensureDatabase(config.databaseUrl))
    logger.info({ url: maskUrl(config.databaseUrl) }, 'created database');
  const applied = await migrate(config.databaseUrl, logger, [BOTS_MIGRATIONS]);
  logger.info({ applied: applied.length }, applied.length ? 'migrations applied' : 'database is up to date');
} catch (error) {
  console.error(
    error instanceof ConfigError
      ? `migrate: invalid configuration: ${error.message}`
      : `migrate: ${(error as Error).message}`,
  );
  process.exit(1);
}
