import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { serviceArgs, type Bundle } from '../../scripts/service-command.js';
import { peakRssMiB } from './cpu.js';

/**
 * What every scenario shares: a world of its own (database and vhost `tickwork_bench`, dropped
 * first), real service processes, polling, percentiles and a shutdown that runs even on failure.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
/** The bench's database and vhost name. */
export const WORLD = 'tickwork_bench';
const pgAdmin = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const amqpBase = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const mgmt = process.env.BENCH_RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';

export const databaseUrl = Object.assign(new URL(pgAdmin), { pathname: `/${WORLD}` }).toString();
export const amqpUrl = Object.assign(new URL(amqpBase), { pathname: `/${WORLD}` }).toString();

/** Generous: a worker drains in-flight runs for up to WORKER_SHUTDOWN_GRACE_SECONDS (30 s) first. */
const STOP_TIMEOUT_MS = 45_000;

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

/** Drops and recreates the bench vhost, and drops the bench database (migrate creates it). */
export async function resetWorld(): Promise<void> {
  const admin = new pg.Client({ connectionString: pgAdmin });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${WORLD} WITH (FORCE)`);
  await admin.end();
  await management('DELETE', `/api/vhosts/${WORLD}`);
  await management('PUT', `/api/vhosts/${WORLD}`);
  await management('PUT', `/api/permissions/${WORLD}/${new URL(amqpBase).username}`, {
    configure: '.*',
    write: '.*',
    read: '.*',
  });
}

// A child killed by a signal has exitCode null but signalCode set, and has already emitted 'exit'.
export const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null || child.signalCode !== null
      ? resolve(child.exitCode)
      : child.once('exit', resolve),
  );

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What `until` throws when its time is up, so a caller can tell it from a crashed service. */
export class TimedOut extends Error {
  override readonly name = 'TimedOut';
}

/**
 * Polls `probe` every `intervalMs` (20) until it holds; a probe that throws counts as false. `check` runs outside
 * that catch, so a crashed service fails the wait at once instead of at the timeout.
 */
export async function until(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  check: () => void = () => undefined,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    check();
    if (Date.now() > deadline) throw new TimedOut(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** The p-th percentile of ascending `sorted` (nearest rank, as the first scenario reported it). */
export function percentile(sorted: readonly number[], p: number): number {
  const value = sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  if (value === undefined) throw new Error('percentile of no values');
  return value;
}

/**
 * Services run as production runs them: the bundles of `npm run build` (dist/api.js for
 * apps/api/src/main.ts, dist/migrate.js for scripts/migrate.ts), built once per bench process.
 */
let built = false;
function bundleOf(script: string): Bundle | undefined {
  const app = /^apps\/(api|scheduler|worker)\/src\/main\.ts$/.exec(script)?.[1] as Bundle | undefined;
  const name = app ?? (script === 'scripts/migrate.ts' ? 'migrate' : undefined);
  if (!name) return undefined;
  if (!built) {
    const build = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], {
      cwd: root,
      stdio: 'inherit',
    });
    if (build.status !== 0) throw new Error('npm run build failed');
    built = true;
  }
  return name;
}

/**
 * The processes and pools of one scenario. `close` SIGTERMs the services, waits for them to exit and
 * ends the pools; it is idempotent, so the signal handler and the `finally` may both call it.
 */
export class Harness {
  private readonly services: Array<{ script: string; child: ChildProcess }> = [];
  private readonly pools: pg.Pool[] = [];
  private closing: Promise<void> | undefined;

  /** `env`: extra variables for every process, on top of DATABASE_URL, AMQP_URL and LOG_LEVEL. */
  constructor(private readonly env: Record<string, string>) {}

  private spawn(script: string): ChildProcess {
    // BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the services.
    const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const bundle = bundleOf(script);
    const args = bundle ? serviceArgs(bundle) : ['--import', 'tsx', script];
    return spawn(process.execPath, [...nodeArgs, ...args], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        AMQP_URL: amqpUrl,
        LOG_LEVEL: 'warn',
        // The scenarios run diag.echo, and measure the API flat out: no per-token rate limit in the way.
        ENABLE_DIAG_TASKS: 'true',
        API_RATE_LIMIT: '0',
        ...this.env,
      },
    });
  }

  /** Runs `scripts/migrate.ts` against the bench database (creating it) to completion. */
  async migrate(): Promise<void> {
    if ((await exited(this.spawn('scripts/migrate.ts'))) !== 0) throw new Error('migration failed');
  }

  /** Starts a long-running service, e.g. 'apps/api/src/main.ts'. */
  start(script: string): void {
    if (this.closing) throw new Error('harness is closed');
    this.services.push({ script, child: this.spawn(script) });
  }

  /** Throws if a service exited before `close`: its absence would skew, not stop, the measurement. */
  assertAlive(): void {
    const dead = this.services.find(({ child }) => child.exitCode !== null || child.signalCode !== null);
    if (dead)
      throw new Error(`${dead.script} exited early (${dead.child.exitCode ?? dead.child.signalCode})`);
  }

  /** Peak RSS (VmHWM) of each live service. Read before `close`: a stopped process has none. */
  usage(): Array<{ script: string; peakRssMiB: number }> {
    return this.services.flatMap(({ script, child }) => {
      const peak = child.pid === undefined ? undefined : peakRssMiB(child.pid);
      return peak === undefined ? [] : [{ script, peakRssMiB: peak }];
    });
  }

  pool(max: number): pg.Pool {
    const pool = new pg.Pool({ connectionString: databaseUrl, max });
    this.pools.push(pool);
    return pool;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const children = this.services.map((s) => s.child);
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => stopWithin(child, STOP_TIMEOUT_MS)));
    await Promise.all(this.pools.map((pool) => pool.end()));
  }
}

async function stopWithin(child: ChildProcess, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  const outcome = await Promise.race([exited(child), late]);
  clearTimeout(timer);
  if (outcome !== 'late') return;
  child.kill('SIGKILL');
  await exited(child);
}

/**
 * Runs a scenario with a fresh Harness and always closes it: on return, on a throw, and on SIGINT or
 * SIGTERM to the bench itself (Ctrl-C reaches the children too, but a plain `kill` would orphan them).
 */
export async function withHarness<T>(
  env: Record<string, string>,
  body: (h: Harness) => Promise<T>,
): Promise<T> {
  const harness = new Harness(env);
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`bench: ${signal}, stopping services`);
    void harness.close().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await body(harness);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await harness.close();
  }
}
