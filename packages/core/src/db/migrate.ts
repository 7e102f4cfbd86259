import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Logger } from '../logger.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../../migrations/', import.meta.url));
// pg_advisory_lock key held while migrating, so concurrent migrators run one after another.
const MIGRATION_LOCK = 1952539499_0001;

/**
 * A folder of numbered migrations (`NNNN_what.sql`) and the name its rows carry in tickwork_migrations:
 * the engine's (`core`), or an extension's, whose versions count from 0001 on their own.
 */
export interface MigrationSource {
  source: string;
  dir: string;
}

/** The engine's migrations (migrations/ at the repository root): always applied first. */
export const ENGINE_MIGRATIONS: MigrationSource = { source: 'core', dir: MIGRATIONS_DIR };

export interface Migration {
  source: string;
  version: number;
  name: string;
  sql: string;
}

/** A migration `migrate` applied. */
export type AppliedMigration = Omit<Migration, 'sql'>;

export async function readMigrations(from: MigrationSource = ENGINE_MIGRATIONS): Promise<Migration[]> {
  const files = (await readdir(from.dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => ({
      source: from.source,
      version: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ''),
      sql: await readFile(join(from.dir, file), 'utf8'),
    })),
  );
}

/**
 * The migrator's own table, created or brought up to date before anything else (not by a numbered
 * migration: it records those). Each source's versions are tracked apart: `source` is part of the
 * key. Databases migrated before extensions had migrations of their own have rows without a source:
 * they were all the engine's, so the column arrives with the default 'core' and the key is widened.
 * Idempotent, and run under the migration lock.
 */
const BOOTSTRAP = `
  CREATE TABLE IF NOT EXISTS tickwork_migrations (
    source text NOT NULL DEFAULT 'core', version integer NOT NULL, name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, version));
  ALTER TABLE tickwork_migrations ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'core';
  DO $$
  BEGIN
    IF NOT EXISTS (
      SELECT 1 FROM pg_index i
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
      WHERE i.indrelid = 'tickwork_migrations'::regclass AND i.indisprimary AND a.attname = 'source'
    ) THEN
      ALTER TABLE tickwork_migrations DROP CONSTRAINT tickwork_migrations_pkey,
        ADD PRIMARY KEY (source, version);
    END IF;
  END $$;`;

/** Creates the database named in `databaseUrl` when it does not exist. Safe under races. */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!name) throw new Error('DATABASE_URL names no database');
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return true;
  } catch (error) {
    // Another migrator created it between our check and our CREATE.
    if (isPgError(error, '42P04') || isPgError(error, '23505')) return false;
    throw error;
  } finally {
    await client.end();
  }
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock: the engine's first,
 * then each extension's (`extensions`, in the order given), so an extension's migrations may build on
 * the engine's tables. Idempotent. Returns what it applied.
 */
export async function migrate(
  databaseUrl: string,
  logger?: Logger,
  extensions: readonly MigrationSource[] = [],
): Promise<AppliedMigration[]> {
  const sources = [ENGINE_MIGRATIONS, ...extensions];
  const names = sources.map((s) => s.source);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice) throw new Error(`migration source "${twice}" is given twice`);
  const migrations = (await Promise.all(sources.map((source) => readMigrations(source)))).flat();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(BOOTSTRAP);
    const key = (m: { source: string; version: number }) => `${m.source}/${m.version}`;
    const recorded = await client.query<{ source: string; version: number }>(
      'SELECT source, version FROM tickwork_migrations',
    );
    const done = new Set(recorded.rows.map(key));
    const applied: AppliedMigration[] = [];
    for (const migration of migrations) {
      if (done.has(key(migration))) continue;
      const { source, version, name } = migration;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO tickwork_migrations (source, version, name) VALUES ($1, $2, $3)', [
          source,
          version,
          name,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${source}/${name} failed: ${(error as Error).message}`, { cause: error });
      }
      applied.push({ source, version, name });
      logger?.info({ source, migration: name }, 'applied migration');
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await client.end();
  }
}

function isPgError(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === code;
}
