import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { sleep, until } from '../bench/src/support.js';
import { DIAG_RECORD_MODULE, SOAK_KEY_LIMIT, SOAK_RATE } from '../test/support/diag-record.js';
import {
  executionFigures,
  flowFigures,
  pending,
  scheduleFigures,
  taskFigures,
  workflowFigures,
} from './chaos/checks.js';
import { Driver } from './chaos/driver.js';
import { FaultInjector } from './chaos/faults.js';
import { Random } from './chaos/random.js';
import { printReport, summarise, type SoakSettings } from './chaos/report.js';
import { createSchedules, settleAndPause } from './chaos/schedules.js';
import { Services } from './chaos/services.js';
import {
  databaseUrl,
  installObserver,
  resetWorld,
  startProxies,
  WORLD,
  type Proxies,
} from './chaos/world.js';

/**
 * `npm run chaos -- --minutes N`: a soak under faults. api + 2 schedulers + N workers as real processes,
 * all reaching PostgreSQL and RabbitMQ through TCP proxies; a steady mix of tasks and per-second
 * schedules; random SIGKILLs and proxy cuts and stalls. Then it drains and checks, from PostgreSQL, that
 * nothing accepted was lost, nothing succeeded ran again and every schedule second fired exactly once.
 * Exit code 1 when any must-be-0 figure is not 0. See docs/reliability.md.
 */
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    workers: { type: 'string', default: '3' },
    rate: { type: 'string', default: '25' },
    'fault-every': { type: 'string', default: '5' },
    'drain-seconds': { type: 'string', default: '90' },
    port: { type: 'string', default: '3919' },
    seed: { type: 'string' },
  },
});
const number = (name: string, value: string | undefined, min: number): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}`);
  return n;
};
const settings: SoakSettings = {
  minutes: number('minutes', values.minutes, 0.25),
  workers: Math.round(number('workers', values.workers, 1)),
  schedulers: 2,
  perSecond: number('rate', values.rate, 1),
  seed: values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : number('seed', values.seed, 0),
  logDir: mkdtempSync(join(tmpdir(), 'tickwork-chaos-')),
};
const faultEveryMs = number('fault-every', values['fault-every'], 1) * 1000;
const drainMs = number('drain-seconds', values['drain-seconds'], 1) * 1000;
const port = number('port', values.port, 1);
const base = `http://127.0.0.1:${port}`;
/** Load without faults first, so the start RSS is of warm services. */
const WARMUP_MS = 10_000;

const log = (message: string) => console.log(`[chaos +${Math.round(performance.now() / 1000)}s] ${message}`);

async function startServices(services: Services, db: pg.Pool): Promise<void> {
  services.start('api');
  for (let i = 0; i < settings.schedulers; i++) services.start('scheduler');
  for (let i = 0; i < settings.workers; i++) services.start('worker');
  const crashed = () => {
    const slot = services.slots.find((s) => s.unexpectedExits > 0);
    if (slot) throw new Error(`${slot.name} exited at start; see ${settings.logDir}/${slot.name}.log`);
  };
  const count = async (sql: string, params: unknown[] = []) =>
    (await db.query<{ n: number }>(sql, params)).rows[0]?.n ?? 0;
  await until(async () => (await fetch(`${base}/readyz`)).ok, 90_000, 'api ready', crashed);
  const listeners = `SELECT count(*)::int AS n FROM pg_stat_activity
                      WHERE datname = $1 AND application_name = 'tickwork-listener'`;
  await until(
    async () => (await count(listeners, [WORLD])) >= settings.schedulers,
    90_000,
    'schedulers',
    crashed,
  );
  const live = `SELECT count(*)::int AS n FROM workers WHERE tickwork_worker_alive(id)`;
  await until(async () => (await count(live)) === settings.workers, 90_000, 'workers', crashed);
}

async function soak(services: Services, proxies: Proxies, db: pg.Pool): Promise<boolean> {
  log(
    `starting api, ${settings.schedulers} schedulers, ${settings.workers} workers (logs: ${settings.logDir})`,
  );
  await startServices(services, db);
  const schedules = await createSchedules(base);
  const driver = new Driver(base, new Random(settings.seed), settings.perSecond);
  const faults = new FaultInjector(services, proxies, new Random(settings.seed ^ 0x5bd1e995), faultEveryMs);
  const loadMs = settings.minutes * 60_000;
  log(`driving ${settings.perSecond} tasks/s for ${settings.minutes} min (seed ${settings.seed})`);
  driver.start();
  await sleep(Math.min(WARMUP_MS, loadMs / 4));
  services.sampleRss('rssStart');
  faults.start();
  await sleep(loadMs - Math.min(WARMUP_MS, loadMs / 4));

  await faults.stop();
  proxies.restore();
  services.reviveAll();
  await driver.stop();
  log(`load and faults stopped (${faults.faults.length} faults injected); draining`);
  const lastDue = await settleAndPause(base, db, schedules);
  const accepted = [...driver.figures.accepted.keys()];
  const drainStarted = performance.now();
  for (let left = await pending(db, accepted, schedules); left > 0;) {
    if (performance.now() - drainStarted > drainMs) {
      log(`drain deadline reached with ${left} runs not terminal`);
      break;
    }
    await sleep(1000);
    left = await pending(db, accepted, schedules);
  }
  const drainSeconds = Math.round((performance.now() - drainStarted) / 100) / 10;
  services.sampleRss('rssEnd');

  const summary = summarise({
    settings,
    driver: driver.figures,
    tasks: await taskFigures(db, accepted),
    executions: await executionFigures(db),
    flow: await flowFigures(db, SOAK_KEY_LIMIT, SOAK_RATE),
    workflows: await workflowFigures(db, [...driver.figures.workflows]),
    schedules: await scheduleFigures(db, schedules, lastDue),
    faults: faults.faults,
    slots: services.slots,
    drainSeconds,
  });
  printReport(summary);
  return summary.failures.length === 0;
}

async function main(): Promise<number> {
  log(`resetting database and vhost ${WORLD}`);
  await resetWorld();
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  await installObserver(db);
  const proxies = await startProxies();
  const services = new Services(
    {
      ...proxies.serviceEnv,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      // Quick failure detection and retries, so a 2-minute soak sees many recoveries.
      HEARTBEAT_INTERVAL_MS: '1000',
      RETRY_BACKOFF_BASE_MS: '200',
      RETRY_BACKOFF_MAX_MS: '2000',
      DISPATCH_POLL_MS: '500',
      WORKER_SHUTDOWN_GRACE_SECONDS: '10',
      // The soak drives diag.record, diag.echo and diag.flaky, whatever NODE_ENV the shell has.
      ENABLE_DIAG_TASKS: 'true',
      // diag.record is test support, not the engine's: the workers load it (the api its contract).
      TASK_MODULES: DIAG_RECORD_MODULE,
    },
    settings.logDir,
  );
  let closing: Promise<void> | undefined;
  const shutdown = () =>
    (closing ??= (async () => {
      await services.close();
      await proxies.close();
      await db.end();
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`chaos: ${signal}, stopping services`);
    void shutdown().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return (await soak(services, proxies, db)) ? 0 : 1;
  } finally {
    await shutdown();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('chaos:', error);
    process.exit(1);
  },
);
