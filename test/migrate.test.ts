import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { is } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { BOTS_MIGRATIONS, botsSchema } from '@tickwork/bots';
import { ensureDatabase, migrate, readMigrations, schema, type Migration } from '@tickwork/core';
import { createDiagTable } from './support/diag-record.js';
import { spawnScript, type ServiceProcess } from './support/processes.js';
import { withDatabase } from './support/services.js';

const adminUrl = inject('services').postgresUrl;
const created: string[] = [];
const spawned: ServiceProcess[] = [];

/** A database name nobody uses yet; dropped in afterAll whether or not the test created it. */
function newDatabaseName(): string {
  const name = `tw_migrate_${randomBytes(5).toString('hex')}`;
  created.push(name);
  return name;
}

async function withAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const databaseExists = (name: string) =>
  withAdmin(adminUrl, async (c) => {
    const found = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return found.rowCount === 1;
  });

interface MigrationRow {
  source: string;
  version: number;
  name: string;
  applied_at: Date;
}

/** The engine's migrations first, then the extensions' (only the bots'), each source by version. */
const migrationRows = (url: string) =>
  withAdmin(url, async (c) => {
    const result = await c.query<MigrationRow>(
      `SELECT source, version, name, applied_at FROM tickwork_migrations
       ORDER BY source = 'core' DESC, source, version`,
    );
    return result.rows;
  });

/** Every migration `npm run migrate` applies, in order: the engine's, then the bots'. */
const allMigrations = async (): Promise<Migration[]> => [
  ...(await readMigrations()),
  ...(await readMigrations(BOTS_MIGRATIONS)),
];

const ids = (migrations: ReadonlyArray<Pick<Migration, 'source' | 'version'>>) =>
  migrations.map((m) => `${m.source}/${m.version}`);

/** Runs `npm run migrate`'s script and resolves with its exit code and output. */
async function runMigrateScript(
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const proc = spawnScript('scripts/migrate.ts', {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    LOG_LEVEL: 'info',
    ...env,
  });
  spawned.push(proc);
  const exit = await Promise.race([
    proc.exited,
    new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 60_000).unref()),
  ]);
  if (exit === 'timeout') throw new Error(`migrate did not exit within 60s; output:\n${proc.output()}`);
  return { code: exit.code, output: proc.output() };
}

/** The `applied migration` log lines of a script's JSON log output, as `source/name`. */
function appliedInOutput(output: string): string[] {
  const names: string[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; source?: string; migration?: string };
    if (entry.msg === 'applied migration' && entry.migration)
      names.push(`${entry.source}/${entry.migration}`);
  }
  return names;
}

const sourceNames = (migrations: readonly Migration[]) => migrations.map((m) => `${m.source}/${m.name}`);

afterAll(async () => {
  for (const proc of spawned) proc.kill('SIGKILL');
  await Promise.all(spawned.map((p) => p.exited));
  await withAdmin(adminUrl, async (c) => {
    for (const name of created)
      await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  });
});

describe('migrations via the exported functions', () => {
  it('creates a missing database, applies every migration once, and nothing the second time', async () => {
    const migrations = await readMigrations();
    expect(migrations.length).toBeGreaterThan(0);
    const name = newDatabaseName();
    const url = withDatabase(adminUrl, name);

    expect(await databaseExists(name)).toBe(false);
    expect(await ensureDatabase(url)).toBe(true);
    expect(await databaseExists(name)).toBe(true);
    expect(await ensureDatabase(url)).toBe(false);

    const first = await migrate(url);
    expect(first).toEqual(migrations.map(({ source, version, name }) => ({ source, version, name })));
    const rows = await migrationRows(url);
    expect(rows.map((r) => [r.source, r.version, r.name])).toEqual(
      migrations.map((m) => ['core', m.version, m.name]),
    );

    expect(await migrate(url)).toEqual([]);
    expect(await migrationRows(url)).toEqual(rows);
  });

  it("applies an extension's migrations after the engine's, tracked apart, once", async () => {
    const bots = await readMigrations(BOTS_MIGRATIONS);
    expect(bots.length).toBeGreaterThan(0);
    const url = withDatabase(adminUrl, newDatabaseName());
    await ensureDatabase(url);

    // The engine alone first (as before the extension was installed), then with the extension.
    await migrate(url);
    expect(ids(await migrate(url, undefined, [BOTS_MIGRATIONS]))).toEqual(ids(bots));
    expect(ids(await migrationRows(url))).toEqual(ids(await allMigrations()));
    expect(await migrate(url, undefined, [BOTS_MIGRATIONS])).toEqual([]);
    await expect(migrate(url, undefined, [BOTS_MIGRATIONS, BOTS_MIGRATIONS])).rejects.toThrow(/twice/);
  });

  it('lets two concurrent migrators both succeed, applying each migration once', async () => {
    const migrations = await allMigrations();
    const name = newDatabaseName();
    const url = withDatabase(adminUrl, name);

    const results = await Promise.all(
      [0, 1, 2].map(() => ensureDatabase(url).then(() => migrate(url, undefined, [BOTS_MIGRATIONS]))),
    );
    expect(ids(results.flat()).sort()).toEqual(ids(migrations).sort());
    expect(ids(await migrationRows(url))).toEqual(ids(migrations));
  });

  it('refuses a DATABASE_URL that names no database', async () => {
    const url = new URL(adminUrl);
    url.pathname = '/';
    await expect(ensureDatabase(url.toString())).rejects.toThrow(/names no database/);
  });
});

// Each test starts one or two migrator processes from TypeScript sources: slow to start on a loaded CI.
describe('npm run migrate (scripts/migrate.ts as a process)', { timeout: 120_000 }, () => {
  it('creates the database when missing and migrates it; a second run applies nothing and exits 0', async () => {
    const migrations = await allMigrations();
    const name = newDatabaseName();
    const url = withDatabase(adminUrl, name);

    const first = await runMigrateScript({ DATABASE_URL: url });
    expect(first.code, first.output).toBe(0);
    expect(first.output).toContain('created database');
    expect(appliedInOutput(first.output)).toEqual(sourceNames(migrations));
    expect(await databaseExists(name)).toBe(true);
    const rows = await migrationRows(url);
    expect(ids(rows)).toEqual(ids(migrations));

    const second = await runMigrateScript({ DATABASE_URL: url });
    expect(second.code, second.output).toBe(0);
    expect(second.output).not.toContain('created database');
    expect(appliedInOutput(second.output)).toEqual([]);
    expect(second.output).toContain('database is up to date');
    expect(await migrationRows(url)).toEqual(rows);
  });

  it('runs two migrators started at once: both exit 0 and each migration is applied once', async () => {
    const migrations = await allMigrations();
    const name = newDatabaseName();
    const url = withDatabase(adminUrl, name);

    const [a, b] = await Promise.all([
      runMigrateScript({ DATABASE_URL: url }),
      runMigrateScript({ DATABASE_URL: url }),
    ]);
    expect(a.code, a.output).toBe(0);
    expect(b.code, b.output).toBe(0);
    const appliedNames = [...appliedInOutput(a.output), ...appliedInOutput(b.output)].sort();
    expect(appliedNames).toEqual(sourceNames(migrations).sort());
    expect(ids(await migrationRows(url))).toEqual(ids(migrations));
  });

  it('exits 1 naming DATABASE_URL when it is not a PostgreSQL URL', async () => {
    const result = await runMigrateScript({ DATABASE_URL: 'mysql://root@127.0.0.1/tickwork' });
    expect(result.code).toBe(1);
    expect(result.output).toContain('DATABASE_URL');
  });

  it('exits 1 without printing the password when PostgreSQL is unreachable', async () => {
    // A port that was just free: nothing listens there.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (address === null || typeof address === 'string') throw new Error('no port');
    const result = await runMigrateScript({
      DATABASE_URL: `postgres://postgres:MigrateS3cretPw@127.0.0.1:${address.port}/tickwork`,
    });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/ECONNREFUSED|connect/);
    expect(result.output).not.toContain('MigrateS3cretPw');
  });
});

/** Spelling variants of the same SQL type, reduced to one name ("roughly": precision is ignored). */
const TYPE_ALIASES: Record<string, string> = {
  int: 'integer',
  int4: 'integer',
  serial: 'integer',
  int8: 'bigint',
  bigserial: 'bigint',
  int2: 'smallint',
  smallserial: 'smallint',
  bool: 'boolean',
  float8: 'double precision',
  float4: 'real',
  varchar: 'character varying',
  char: 'character',
  timestamptz: 'timestamp with time zone',
  timestamp: 'timestamp without time zone',
  decimal: 'numeric',
};

function normaliseType(type: string): string {
  const array = /\[\]$/.test(type.trim());
  const base = type
    .trim()
    .toLowerCase()
    .replace(/(\[\])+$/, '')
    .replace(/\(.*?\)/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return `${TYPE_ALIASES[base] ?? base}${array ? '[]' : ''}`;
}

interface DbColumn {
  column_name: string;
  is_nullable: 'YES' | 'NO';
  sql_type: string;
}

describe('the Drizzle schema matches the migrated database', () => {
  // The engine's tables (packages/core) and the bots extension's (packages/bots).
  const tables: PgTable[] = [schema, botsSchema]
    .flatMap((module) => Object.values(module as Record<string, unknown>))
    .filter((value): value is PgTable => is(value, PgTable));

  it('declares at least the runs, workers and schedules tables, and the bots tables', () => {
    const names = tables.map((t) => getTableConfig(t).name);
    expect(names).toEqual(expect.arrayContaining(['runs', 'workers', 'schedules', 'bot_configs', 'posts']));
  });

  it('has, for every Drizzle table, the same columns, nullability and types as the database', async () => {
    const name = newDatabaseName();
    const url = withDatabase(adminUrl, name);
    await ensureDatabase(url);
    await migrate(url, undefined, [BOTS_MIGRATIONS]);

    await withAdmin(url, async (client) => {
      for (const table of tables) {
        const config = getTableConfig(table);
        const result = await client.query<DbColumn>(
          `SELECT c.column_name, c.is_nullable, format_type(a.atttypid, a.atttypmod) AS sql_type
             FROM information_schema.columns c
             JOIN pg_attribute a
               ON a.attrelid = format('%I.%I', c.table_schema, c.table_name)::regclass
              AND a.attname = c.column_name
            WHERE c.table_schema = $1 AND c.table_name = $2
            ORDER BY c.ordinal_position`,
          [config.schema ?? 'public', config.name],
        );
        expect(result.rows.length, `table ${config.name} exists in the database`).toBeGreaterThan(0);

        const inDatabase = Object.fromEntries(
          result.rows.map((r) => [
            r.column_name,
            { nullable: r.is_nullable === 'YES', type: normaliseType(r.sql_type) },
          ]),
        );
        const inDrizzle = Object.fromEntries(
          config.columns.map((c) => [c.name, { nullable: !c.notNull, type: normaliseType(c.getSQLType()) }]),
        );
        expect(Object.keys(inDrizzle).sort(), `columns of ${config.name}`).toEqual(
          Object.keys(inDatabase).sort(),
        );
        for (const [column, declared] of Object.entries(inDrizzle)) {
          expect(declared, `nullability and type of ${config.name}.${column}`).toEqual(inDatabase[column]);
        }
      }
    });
  });

  it('normalises type spellings but tells different types apart', () => {
    expect(normaliseType('timestamptz')).toBe(normaliseType('timestamp with time zone'));
    expect(normaliseType('int4')).toBe(normaliseType('integer'));
    expect(normaliseType('varchar(255)')).toBe(normaliseType('character varying(64)'));
    expect(normaliseType('text[]')).not.toBe(normaliseType('text'));
    expect(normaliseType('bigint')).not.toBe(normaliseType('integer'));
    expect(normaliseType('timestamp')).not.toBe(normaliseType('timestamptz'));
  });
});

/** A database's schema, to compare two: each table's columns, constraints and indexes, by name. */
async function schemaOf(url: string) {
  return withAdmin(url, async (c) => {
    const columns = await c.query(
      `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, is_identity
       FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`,
    );
    const constraints = await c.query(
      `SELECT conrelid::regclass::text AS table_name, conname, pg_get_constraintdef(oid) AS definition
       FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`,
    );
    const indexes = await c.query(
      `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2`,
    );
    return { columns: columns.rows, constraints: constraints.rows, indexes: indexes.rows };
  });
}

/**
 * Migrates a database as Tickwork did before the bots became an extension: the migrator's table of
 * then (no `source`), and the engine's migrations up to 0007 with 0003 as it was, creating the bots'
 * tables (test/fixtures/0003_bots-before-extensions.sql), and 0004 as it was, creating diag_executions
 * (now test support's: createDiagTable has the same DDL; 0010 drops it).
 */
async function migrateAsBeforeExtensions(url: string): Promise<void> {
  const fixture = new URL('./fixtures/0003_bots-before-extensions.sql', import.meta.url);
  const legacy0003 = await readFile(fixture, 'utf8');
  const engine = (await readMigrations()).filter((m) => m.version <= 7);
  await withAdmin(url, async (c) => {
    await c.query(`CREATE TABLE tickwork_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    for (const m of engine) {
      await c.query(m.version === 3 ? legacy0003 : m.sql);
      if (m.version === 4) await createDiagTable(c);
      await c.query('INSERT INTO tickwork_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
  });
}

describe('a database migrated before the bots became an extension', () => {
  it('is upgraded to the schema of a new one, keeping its bots, their schedules (as owners) and posts', async () => {
    const legacyUrl = withDatabase(adminUrl, newDatabaseName());
    await ensureDatabase(legacyUrl);
    await migrateAsBeforeExtensions(legacyUrl);
    const botId = await withAdmin(legacyUrl, async (c) => {
      const { rows } = await c.query<{ id: number }>(
        `INSERT INTO bot_configs (name, subreddits, auto_scrape_enabled, scrape_interval_hours, page_limit)
         VALUES ('legacy', '{python}', true, 6, 3) RETURNING id`,
      );
      const id = rows[0]!.id;
      await c.query(
        `INSERT INTO schedules (name, task, args, queue, trigger, max_retries, timeout_seconds,
                                coalesce_missed, max_instances, bot_config_id)
         VALUES ('bot-config-1 scrape', 'scrape.bot', jsonb_build_object('botConfigId', $1::bigint), 'scraping',
                 '{"type": "interval", "seconds": 21600}', 5, 900, true, 1, $1)`,
        [id],
      );
      await c.query(
        `INSERT INTO posts (bot_config_id, reddit_id, subreddit, title, permalink, created_utc)
         VALUES ($1, 'p1', 'python', 'a post', '/r/python/comments/p1', now())`,
        [id],
      );
      return id;
    });

    const applied = await migrate(legacyUrl, undefined, [BOTS_MIGRATIONS]);
    const expected = (await allMigrations()).filter((m) => m.source !== 'core' || m.version > 7);
    expect(ids(applied)).toEqual(ids(expected));
    const rows = await migrationRows(legacyUrl);
    expect(ids(rows)).toEqual(ids(await allMigrations()));
    expect(await migrate(legacyUrl, undefined, [BOTS_MIGRATIONS])).toEqual([]);

    await withAdmin(legacyUrl, async (c) => {
      const schedules = await c.query<{ owner: string | null }>(
        "SELECT owner FROM schedules WHERE task = 'scrape.bot'",
      );
      expect(schedules.rows).toEqual([{ owner: `bot-config:${botId}` }]);
      const posts = await c.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM posts WHERE bot_config_id = $1',
        [botId],
      );
      expect(posts.rows[0]!.n).toBe(1);
    });

    const freshUrl = withDatabase(adminUrl, newDatabaseName());
    await ensureDatabase(freshUrl);
    await migrate(freshUrl, undefined, [BOTS_MIGRATIONS]);
    expect(await schemaOf(legacyUrl)).toEqual(await schemaOf(freshUrl));
  });
});
