import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { is } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ensureDatabase, migrate, readMigrations, schema } from '@tickwork/core';
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
  version: number;
  name: string;
  applied_at: Date;
}

const migrationRows = (url: string) =>
  withAdmin(url, async (c) => {
    const result = await c.query<MigrationRow>(
      'SELECT version, name, applied_at FROM tickwork_migrations ORDER BY version',
    );
    return result.rows;
  });

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

/** Counts `applied migration` log lines per migration name in a script's JSON log output. */
function appliedInOutput(output: string): string[] {
  const names: string[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; migration?: string };
    if (entry.msg === 'applied migration' && entry.migration) names.push(entry.migration);
  }
  return names;
}

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
    expect(first).toEqual(migrations.map((m) => m.version));
    const rows = await migrationRows(url);
    expect(rows.map((r) => [r.version, r.name])).toEqual(migrations.map((m) => [m.version, m.name]));

    expect(await migrate(url)).toEqual([]);
    expect(await migrationRows(url)).toEqual(rows);
  });

  it('lets two concurrent migrators both succeed, applying each migration once', async () => {
    const migrations = await readMigrations();
    const name = newDatabaseName();
    const url = withDatabase(adminUrl, name);

    const results = await Promise.all([0, 1, 2].map(() => ensureDatabase(url).then(() => migrate(url))));
    const applied = results.flat().sort((a, b) => a - b);
    expect(applied).toEqual(migrations.map((m) => m.version));
    const rows = await migrationRows(url);
    expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
  });

  it('refuses a DATABASE_URL that names no database', async () => {
    const url = new URL(adminUrl);
    url.pathname = '/';
    await expect(ensureDatabase(url.toString())).rejects.toThrow(/names no database/);
  });
});

describe('npm run migrate (scripts/migrate.ts as a process)', () => {
  it('creates the database when missing and migrates it; a second run applies nothing and exits 0', async () => {
    const migrations = await readMigrations();
    const name = newDatabaseName();
    const url = withDatabase(adminUrl, name);

    const first = await runMigrateScript({ DATABASE_URL: url });
    expect(first.code, first.output).toBe(0);
    expect(first.output).toContain('created database');
    expect(appliedInOutput(first.output)).toEqual(migrations.map((m) => m.name));
    expect(await databaseExists(name)).toBe(true);
    const rows = await migrationRows(url);
    expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));

    const second = await runMigrateScript({ DATABASE_URL: url });
    expect(second.code, second.output).toBe(0);
    expect(second.output).not.toContain('created database');
    expect(appliedInOutput(second.output)).toEqual([]);
    expect(second.output).toContain('database is up to date');
    expect(await migrationRows(url)).toEqual(rows);
  });

  it('runs two migrators started at once: both exit 0 and each migration is applied once', async () => {
    const migrations = await readMigrations();
    const name = newDatabaseName();
    const url = withDatabase(adminUrl, name);

    const [a, b] = await Promise.all([
      runMigrateScript({ DATABASE_URL: url }),
      runMigrateScript({ DATABASE_URL: url }),
    ]);
    expect(a.code, a.output).toBe(0);
    expect(b.code, b.output).toBe(0);
    const appliedNames = [...appliedInOutput(a.output), ...appliedInOutput(b.output)].sort();
    expect(appliedNames).toEqual(migrations.map((m) => m.name).sort());
    const rows = await migrationRows(url);
    expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
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
  const tables: PgTable[] = Object.values(schema as Record<string, unknown>).filter(
    (value): value is PgTable => is(value, PgTable),
  );

  it('declares at least the runs, workers and schedules tables', () => {
    const names = tables.map((t) => getTableConfig(t).name);
    expect(names).toEqual(expect.arrayContaining(['runs', 'workers', 'schedules']));
  });

  it('has, for every Drizzle table, the same columns, nullability and types as the database', async () => {
    const name = newDatabaseName();
    const url = withDatabase(adminUrl, name);
    await ensureDatabase(url);
    await migrate(url);

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
