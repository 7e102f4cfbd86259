import { pathToFileURL } from 'node:url';
import pg from 'pg';
import {
  claimRuns,
  createLogger,
  createPool,
  ensureDatabase,
  insertRuns,
  migrate,
  recordSuccesses,
  writeContracts,
  defineContract,
  type NewRun,
  type Pool,
} from '@tickwork/core';

/**
 * Issue 15: what a keyed or rate-limited run costs in PostgreSQL over a plain one. Each kind of run goes
 * through the statements a run's life is made of, with the real query functions: accepted (insertRuns,
 * batches of 500), claimed (claimRuns, batches of 50, as a busy worker's Claims batch them) and finished
 * (recordSuccesses, batches of 50). Limits are set high enough never to hold a run back, so what is
 * measured is the gate's price, not waiting. The kinds alternate round by round; medians are printed.
 *
 *   node --import tsx bench/src/flow-cost.ts [--runs 5000] [--rounds 5]
 */
const DB = 'tickwork_bench_flow';
const adminUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbUrl = Object.assign(new URL(adminUrl), { pathname: `/${DB}` }).toString();
const WORKER = '00000000-0000-4000-8000-0000000000f1';

const KINDS = {
  plain: defineContract({ name: 'flow.plain' }),
  keyed: defineContract({ name: 'flow.keyed', concurrency: { key: 'tenant:{tenant}', limit: 100_000 } }),
  rated: defineContract({ name: 'flow.rated', rateLimit: { limit: 1_000_000, periodSeconds: 1 } }),
};
type Kind = keyof typeof KINDS;

interface Lap {
  insertUs: number;
  claimUs: number;
  finishUs: number;
}

async function oneRound(pool: Pool, kind: Kind, runs: number): Promise<Lap> {
  const task = KINDS[kind].name;
  const newRuns: NewRun[] = Array.from({ length: runs }, (_, i) => ({
    task,
    args: { tenant: i % 10, n: i },
    queue: 'default',
    maxRetries: 0,
    timeoutSeconds: 60,
  }));
  const time = async (fn: () => Promise<void>) => {
    const started = performance.now();
    await fn();
    return ((performance.now() - started) * 1000) / runs;
  };
  const ids: number[] = [];
  const insertUs = await time(async () => {
    for (let i = 0; i < runs; i += 500)
      for (const { run } of await insertRuns(pool, newRuns.slice(i, i + 500))) ids.push(run.id);
  });
  const claimed: Array<{ runId: number; attempt: number; result: unknown }> = [];
  const claimUs = await time(async () => {
    for (let i = 0; i < ids.length; i += 50) {
      const messages = ids.slice(i, i + 50).map((runId) => ({ runId, task, queue: 'default' }));
      for (const c of await claimRuns(pool, messages, WORKER))
        if (c.started) claimed.push({ runId: c.run.id, attempt: c.run.attempts, result: { ok: true } });
    }
  });
  if (claimed.length !== runs) throw new Error(`${kind}: ${claimed.length} of ${runs} runs started`);
  const finishUs = await time(async () => {
    for (let i = 0; i < claimed.length; i += 50)
      await recordSuccesses(pool, WORKER, claimed.slice(i, i + 50));
  });
  return { insertUs, claimUs, finishUs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function flowCost(o: { runs: number; rounds: number }): Promise<Record<Kind, Lap>> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  await admin.end();
  await ensureDatabase(dbUrl);
  const logger = createLogger({ level: 'warn', service: 'bench-flow' });
  await migrate(dbUrl, logger);
  const pool = createPool(dbUrl, logger, { max: 2, name: 'bench-flow' });
  try {
    await writeContracts(pool, Object.values(KINDS));
    // A worker row, so the runs' worker_id points somewhere (nothing reaps here).
    await pool.query(
      `INSERT INTO workers (id, hostname, pid, queues, concurrency, heartbeat_interval_ms)
       VALUES ($1, 'bench', 1, ARRAY['default'], 50, 5000)`,
      [WORKER],
    );
    const laps: Record<Kind, Lap[]> = { plain: [], keyed: [], rated: [] };
    for (let round = 0; round < o.rounds + 1; round++)
      for (const kind of Object.keys(KINDS) as Kind[]) {
        const lap = await oneRound(pool, kind, o.runs);
        if (round > 0) laps[kind].push(lap); // round 0 warms the caches and plans
        await pool.query('DELETE FROM runs');
      }
    const result = {} as Record<Kind, Lap>;
    for (const kind of Object.keys(KINDS) as Kind[])
      result[kind] = {
        insertUs: median(laps[kind].map((l) => l.insertUs)),
        claimUs: median(laps[kind].map((l) => l.claimUs)),
        finishUs: median(laps[kind].map((l) => l.finishUs)),
      };
    return result;
  } finally {
    await pool.end();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const result = await flowCost({ runs: arg('runs', 5000), rounds: arg('rounds', 5) });
  const rows = Object.entries(result).map(([kind, l]) => ({
    kind,
    'insert µs/run': l.insertUs.toFixed(1),
    'claim µs/run': l.claimUs.toFixed(1),
    'finish µs/run': l.finishUs.toFixed(1),
    'total µs/run': (l.insertUs + l.claimUs + l.finishUs).toFixed(1),
  }));
  console.table(rows);
  console.log(JSON.stringify({ flowCost: result }));
}
