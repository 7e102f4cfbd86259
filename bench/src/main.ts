import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

/**
 * End-to-end throughput through the public API: N diag.echo tasks POSTed with `--inflight` requests in
 * flight, against real api, scheduler and worker processes, timed from the first POST until PostgreSQL
 * shows every run succeeded. Runs in its own database and vhost (`tickwork_bench`), dropped first.
 */
const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '50' },
    inflight: { type: 'string', default: '50' },
    port: { type: 'string', default: '3917' },
  },
});
const tasks = Number(values.tasks);
const workers = Number(values.workers);
const concurrency = Number(values.concurrency);
const inflight = Number(values.inflight);
const port = Number(values.port);

const root = fileURLToPath(new URL('../../', import.meta.url));
const name = 'tickwork_bench';
const pgAdmin = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const amqpBase = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const mgmt = process.env.BENCH_RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';

const databaseUrl = Object.assign(new URL(pgAdmin), { pathname: `/${name}` }).toString();
const amqpUrl = Object.assign(new URL(amqpBase), { pathname: `/${name}` }).toString();

async function management(method: string, path: string, body?: unknown): Promise<void> {
  const u = new URL(mgmt);
  const auth = Buffer.from(`${u.username}:${u.password}`).toString('base64');
  const response = await fetch(`${u.protocol}//${u.host}${path}`, {
    method,
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok && response.status !== 404) throw new Error(`${method} ${path}: ${response.status}`);
}

async function resetWorld(): Promise<void> {
  const admin = new pg.Client({ connectionString: pgAdmin });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
  await management('DELETE', `/api/vhosts/${name}`);
  await management('PUT', `/api/vhosts/${name}`);
  await management('PUT', `/api/permissions/${name}/${new URL(amqpBase).username}`, {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
}

function start(script: string, extra: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      AMQP_URL: amqpUrl,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      WORKER_CONCURRENCY: String(concurrency),
      ...extra,
    },
  });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve),
  );

async function until(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function main(): Promise<void> {
  await resetWorld();
  if ((await exited(start('scripts/migrate.ts'))) !== 0) throw new Error('migration failed');
  const children = [start('apps/api/src/main.ts'), start('apps/scheduler/src/main.ts')];
  for (let i = 0; i < workers; i++) children.push(start('apps/worker/src/main.ts'));
  const base = `http://127.0.0.1:${port}`;
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    await until(async () => (await fetch(`${base}/readyz`)).ok, 30_000, 'api ready');
    await until(
      async () =>
        (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM workers WHERE stopped_at IS NULL`))
          .rows[0]!.n === workers,
      30_000,
      'workers registered',
    );
    const acceptMs: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(inflight, tasks) }, async () => {
        while (next < tasks) {
          next++;
          const t0 = performance.now();
          const response = await fetch(`${base}/api/v1/tasks`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ task: 'diag.echo', args: { i: next } }),
          });
          if (response.status !== 202)
            throw new Error(`POST /tasks: ${response.status} ${await response.text()}`);
          await response.arrayBuffer();
          acceptMs.push(performance.now() - t0);
        }
      }),
    );
    const acceptedAt = performance.now();
    await until(
      async () =>
        (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM runs WHERE status = 'succeeded'`))
          .rows[0]!.n === tasks,
      600_000,
      'all runs succeeded',
    );
    const done = performance.now();
    acceptMs.sort((a, b) => a - b);
    const pct = (p: number) =>
      acceptMs[Math.min(acceptMs.length - 1, Math.floor((p / 100) * acceptMs.length))]!;
    const result = {
      scenario: 'api-e2e-throughput',
      tasks,
      workers,
      concurrency,
      inflight,
      acceptPerSec: Math.round(tasks / ((acceptedAt - started) / 1000)),
      endToEndPerSec: Math.round(tasks / ((done - started) / 1000)),
      acceptP50Ms: Number(pct(50).toFixed(1)),
      acceptP99Ms: Number(pct(99).toFixed(1)),
      wallSeconds: Number(((done - started) / 1000).toFixed(2)),
    };
    console.log(JSON.stringify(result));
    console.table({
      'end to end (tasks/s)': result.endToEndPerSec,
      'accept (tasks/s)': result.acceptPerSec,
      'POST /tasks p50 (ms)': result.acceptP50Ms,
      'POST /tasks p99 (ms)': result.acceptP99Ms,
    });
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map(exited));
    await db.end();
  }
}

await main();
