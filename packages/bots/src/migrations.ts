import { fileURLToPath } from 'node:url';
import type { MigrationSource } from '@tickwork/core';

/**
 * The bots' migrations (packages/bots/migrations/), tracked in tickwork_migrations as source `bots`.
 * `migrate(databaseUrl, logger, [BOTS_MIGRATIONS])` applies them after the engine's.
 */
export const BOTS_MIGRATIONS: MigrationSource = {
  source: 'bots',
  dir: fileURLToPath(new URL('../migrations/', import.meta.url)),
};
