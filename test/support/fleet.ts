import type { TestEnv } from './env.js';
import { SERVICE_START_MS, spawnService, type ServiceProcess } from './processes.js';
import { GiveUp, waitFor } from './wait.js';

type Service = 'api' | 'scheduler' | 'worker';

/** When a test sent SIGKILL, and when it saw the process gone (the kill landed in between). */
export interface Kill {
  killedAt: number;
  exitedAt: number;
}

/**
 * The service processes one test file starts, tracked so that `killAll()` (in afterAll) always reaps
 * what a failed test left running.
 */
export class Fleet {
  readonly processes: ServiceProcess[] = [];

  constructor(private readonly env: TestEnv) {}

  spawn(service: Service, overrides: Record<string, string> = {}): ServiceProcess {
    const p = spawnService(service, this.env.processEnv(overrides));
    this.processes.push(p);
    return p;
  }

  /** Spawns a worker process and resolves once it has registered, with its worker id. */
  async spawnWorker(
    overrides: Record<string, string> = {},
  ): Promise<{ process: ServiceProcess; id: string }> {
    const p = this.spawn('worker', overrides);
    return { process: p, id: await workerIdOf(this.env, p) };
  }

  /** Spawns a scheduler process and resolves once it is connected (it dispatches from then on). */
  async spawnScheduler(overrides: Record<string, string> = {}): Promise<ServiceProcess> {
    const p = this.spawn('scheduler', overrides);
    await p.waitForOutput(/connected to RabbitMQ/, SERVICE_START_MS);
    return p;
  }

  get alive(): ServiceProcess[] {
    return this.processes.filter(isRunning);
  }

  async killAll(): Promise<void> {
    for (const p of this.processes) p.kill('SIGKILL');
    await Promise.all(this.processes.map((p) => p.exited));
  }
}

export const isRunning = (p: ServiceProcess): boolean =>
  p.child.exitCode === null && p.child.signalCode === null;

/** SIGKILLs `p` and resolves once it is gone. */
export async function sigkill(p: ServiceProcess): Promise<Kill> {
  const killedAt = Date.now();
  p.kill('SIGKILL');
  const { signal } = await exitOf(p);
  if (signal !== 'SIGKILL') throw new Error(`process ${p.child.pid} ended by ${signal}, not SIGKILL`);
  return { killedAt, exitedAt: Date.now() };
}

/** The id a worker process registered under (it registers before it consumes). */
export function workerIdOf(env: TestEnv, p: ServiceProcess, timeoutMs = SERVICE_START_MS): Promise<string> {
  return waitFor(
    async () => {
      if (!isRunning(p)) throw new GiveUp(`worker exited early: ${p.output()}`);
      // Newest first: a killed worker never marks itself stopped, and pids can be reused.
      const { rows } = await env.pool.query<{ id: string }>(
        'SELECT id FROM workers WHERE pid = $1 AND stopped_at IS NULL ORDER BY started_at DESC LIMIT 1',
        [p.child.pid],
      );
      return rows[0]?.id;
    },
    { timeoutMs, intervalMs: 100, what: `worker process ${p.child.pid} to register` },
  );
}

/** The process's exit, or an error with its output once `timeoutMs` passed. */
export async function exitOf(
  p: ServiceProcess,
  timeoutMs = 30_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`process did not exit within ${timeoutMs} ms:\n${p.output()}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
