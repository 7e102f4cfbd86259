import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ROOT, spawnService, type ServiceProcess } from './processes.js';
import { waitFor } from './wait.js';

/*
 * Service processes under fault injection (test/faults/*-outage): spawned by name, watched for crashes
 * and exits, measured (CPU, log rate, memory), their logs read for what they did.
 */

export type ServiceName = 'api' | 'scheduler' | 'worker';

/** What a crash looks like in a service's output (lifecycle.ts logs "unhandled rejection"). */
const CRASH_TEXT = /unhandled ?rejection|uncaught/i;

/**
 * Service processes under fault injection: spawned with their output kept, and checked that none
 * exited or logged a crash. `stopAll` sends SIGTERM and returns the exit of each.
 */
export class ServiceFleet {
  readonly processes = new Map<ServiceName, ServiceProcess>();
  private stopping = false;

  spawn(service: ServiceName, env: Record<string, string>): ServiceProcess {
    const p = spawnService(service, env);
    this.processes.set(service, p);
    return p;
  }

  get(service: ServiceName): ServiceProcess {
    const p = this.processes.get(service);
    if (!p) throw new Error(`${service} was not spawned`);
    return p;
  }

  pid(service: ServiceName): number {
    const pid = this.get(service).child.pid;
    if (pid === undefined) throw new Error(`${service} has no pid`);
    return pid;
  }

  /** Every process still runs and none printed a crash; the message carries the offending output. */
  problems(): string[] {
    const found: string[] = [];
    for (const [name, p] of this.processes) {
      if (!this.stopping && (p.child.exitCode !== null || p.child.signalCode !== null))
        found.push(`${name} exited (${p.child.exitCode ?? p.child.signalCode}):\n${tail(p.output())}`);
      const crash = p
        .output()
        .split('\n')
        .find((line) => CRASH_TEXT.test(line));
      if (crash) found.push(`${name} logged: ${crash}`);
    }
    return found;
  }

  /** With TEST_KEEP_LOGS set, writes each output to test-artifacts/<label>/<service>.log. */
  saveOutputs(label: string): void {
    if (!process.env.TEST_KEEP_LOGS) return;
    const dir = join(ROOT, 'test-artifacts', label);
    mkdirSync(dir, { recursive: true });
    for (const [name, p] of this.processes) writeFileSync(join(dir, `${name}.log`), p.output());
  }

  /** SIGTERM to `services` (default all), then each exit (SIGKILL after `timeoutMs`). */
  async stopAll(
    timeoutMs = 30_000,
    services: ServiceName[] = [...this.processes.keys()],
  ): Promise<Record<string, { code: number | null; signal: string | null }>> {
    this.stopping = true;
    const exits: Record<string, { code: number | null; signal: string | null }> = {};
    await Promise.all(
      services.map(async (name) => {
        const p = this.get(name);
        p.kill('SIGTERM');
        const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
        exits[name] = await p.exited;
        clearTimeout(timer);
      }),
    );
    return exits;
  }
}

/** The last lines of a process's output, for failure messages. */
export const tail = (text: string, lines = 40): string => text.split('\n').slice(-lines).join('\n');

/** How many output lines match `pattern`. */
export const countLines = (p: ServiceProcess, pattern: RegExp): number =>
  p
    .output()
    .split('\n')
    .filter((line) => pattern.test(line)).length;

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command (which may contain spaces): state is [0], utime [11], stime [12].
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/**
 * CPU time (user + system, in ms) of this process's children that have ended and been waited for,
 * their own waited-for children included, from /proc/self/stat: what they computed, however long
 * other work on the machine kept them waiting for a core.
 */
export function endedChildrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // state is [0], cutime [13], cstime [14].
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
}

/** Resident memory of a process, in MB, from /proc/<pid>/status. */
export function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

/**
 * Resource use of processes over a window: CPU share of one core, output lines per second, RSS growth.
 * Start it when the fault begins, `end()` it when the fault ends.
 */
export function measure(fleet: ServiceFleet, services: ServiceName[]) {
  const startedAt = Date.now();
  const start = services.map((s) => ({
    s,
    cpu: cpuMs(fleet.pid(s)),
    lines: fleet.get(s).output().split('\n').length,
    rss: rssMb(fleet.pid(s)),
  }));
  return {
    end() {
      const seconds = (Date.now() - startedAt) / 1000;
      return Object.fromEntries(
        start.map(({ s, cpu, lines, rss }) => [
          s,
          {
            seconds,
            cpuShare: (cpuMs(fleet.pid(s)) - cpu) / 1000 / seconds,
            linesPerSecond: (fleet.get(s).output().split('\n').length - lines) / seconds,
            rssGrowthMb: rssMb(fleet.pid(s)) - rss,
          },
        ]),
      ) as Record<
        ServiceName,
        { seconds: number; cpuShare: number; linesPerSecond: number; rssGrowthMb: number }
      >;
    },
  };
}

/** Resource use over an outage: no spinning (CPU), no log flood, no runaway memory. */
export function expectCalm(usage: ReturnType<ReturnType<typeof measure>['end']>): void {
  for (const [service, u] of Object.entries(usage)) {
    expect(u.cpuShare, `${service} CPU share of one core`).toBeLessThan(0.3);
    expect(u.linesPerSecond, `${service} log lines per second`).toBeLessThan(10);
    expect(u.rssGrowthMb, `${service} RSS growth (MB)`).toBeLessThan(100);
  }
}

/**
 * How many times the worker logged each run's success so far: twice would mean a run ran twice. A run
 * stored as succeeded may not have its line yet (see settledSuccesses).
 */
export function successesByRun(p: ServiceProcess): Map<number, number> {
  const counts = new Map<number, number>();
  for (const line of p.output().split('\n')) {
    if (!line.includes('"msg":"run succeeded"')) continue;
    const { runId } = JSON.parse(line) as { runId: number };
    counts.set(runId, (counts.get(runId) ?? 0) + 1);
  }
  return counts;
}

/**
 * The worker's success lines for `ids`, counted once its log has settled. The worker logs a success
 * after storing it, and the line reaches the test later still (pino writes asynchronously, then the
 * pipe), so runs stored as succeeded may not have their lines yet. Waits for a line for each run, then
 * runs `marker` (which enqueues one more run and returns its id) and waits for that run's line: the
 * worker writes its log in order, so any line it logged before that one, a second success of one of
 * `ids` included, has arrived by then.
 */
export async function settledSuccesses(
  worker: ServiceProcess,
  ids: number[],
  marker: () => Promise<number>,
  timeoutMs = 30_000,
): Promise<Map<number, number>> {
  const missing = () => {
    const counts = successesByRun(worker);
    return ids.filter((id) => !counts.has(id));
  };
  await waitFor(() => missing().length === 0, {
    timeoutMs,
    what: `the worker to log the success of runs ${ids.join(',')}`,
  }).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; no line for ${missing().join(',')}`);
  });
  const id = await marker();
  await waitFor(() => successesByRun(worker).has(id), {
    timeoutMs,
    what: `the worker to log the success of run ${id}, enqueued after them`,
  });
  return successesByRun(worker);
}
