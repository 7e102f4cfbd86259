import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exited, sleep } from '../../bench/src/support.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

export type ServiceKind = 'api' | 'scheduler' | 'worker';

const SCRIPTS: Record<ServiceKind, string> = {
  api: 'apps/api/src/main.ts',
  scheduler: 'apps/scheduler/src/main.ts',
  worker: 'apps/worker/src/main.ts',
};

/** One service position (e.g. worker 2); a restart puts a new process in the same slot. */
export interface Slot {
  name: string;
  kind: ServiceKind;
  child: ChildProcess;
  restarts: number;
  /** Set while the fault injector has killed it on purpose. */
  killed: boolean;
  /** Exits nobody asked for (a crash), counted rather than hidden. */
  unexpectedExits: number;
  rssStart?: RssSample;
  rssEnd?: RssSample;
}

export interface RssSample {
  pid: number;
  /** VmRSS of the service's node process, in MiB; undefined where /proc is not available. */
  mib: number | undefined;
}

/** Resident set size from /proc/<pid>/status (Linux); undefined elsewhere or once the process is gone. */
export function rssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? undefined : Number(match[1]) / 1024;
  } catch {
    return undefined;
  }
}

const STOP_TIMEOUT_MS = 30_000;

/**
 * The service processes of a soak. Each writes its log to `<logDir>/<slot>.log` (appended across
 * restarts), which is where a loss or duplicate is traced afterwards.
 */
export class Services {
  readonly slots: Slot[] = [];
  private readonly extraEnvOf = new Map<string, Record<string, string>>();
  private closing = false;

  constructor(
    private readonly env: Record<string, string>,
    private readonly logDir: string,
  ) {}

  start(kind: ServiceKind, extraEnv: Record<string, string> = {}): Slot {
    const index = this.slots.filter((s) => s.kind === kind).length + 1;
    const slot: Slot = {
      name: `${kind}-${index}`,
      kind,
      child: this.spawn(kind, `${kind}-${index}`, extraEnv),
      restarts: 0,
      killed: false,
      unexpectedExits: 0,
    };
    this.watch(slot);
    this.slots.push(slot);
    return slot;
  }

  of(kind: ServiceKind): Slot[] {
    return this.slots.filter((s) => s.kind === kind);
  }

  /** SIGKILLs the slot's process and waits until it is gone. */
  async kill(slot: Slot): Promise<void> {
    slot.killed = true;
    slot.child.kill('SIGKILL');
    await exited(slot.child);
  }

  /** A new process in the slot, with the same environment. */
  restart(slot: Slot): void {
    if (this.closing || running(slot.child)) return;
    slot.child = this.spawn(slot.kind, slot.name, this.extraEnvOf.get(slot.name) ?? {});
    slot.restarts++;
    slot.killed = false;
    this.watch(slot);
  }

  /** Restarts any slot whose process is not running (a kill whose restart was interrupted, a crash). */
  reviveAll(): void {
    for (const slot of this.slots) if (!running(slot.child)) this.restart(slot);
  }

  sampleRss(which: 'rssStart' | 'rssEnd'): void {
    for (const slot of this.slots) {
      const pid = slot.child.pid ?? -1;
      slot[which] = { pid, mib: rssMiB(pid) };
    }
  }

  /** SIGTERM to every service, SIGKILL to those still there after the timeout. */
  async close(): Promise<void> {
    this.closing = true;
    const children = this.slots.map((s) => s.child).filter(running);
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map(async (child) => {
        const late = sleep(STOP_TIMEOUT_MS).then(() => 'late' as const);
        if ((await Promise.race([exited(child), late])) !== 'late') return;
        child.kill('SIGKILL');
        await exited(child);
      }),
    );
  }

  private spawn(kind: ServiceKind, name: string, extraEnv: Record<string, string>): ChildProcess {
    this.extraEnvOf.set(name, extraEnv);
    const log = openSync(join(this.logDir, `${name}.log`), 'a');
    try {
      return spawn(process.execPath, ['--import', 'tsx', SCRIPTS[kind]], {
        cwd: root,
        stdio: ['ignore', log, log],
        env: { ...process.env, ...this.env, ...extraEnv },
      });
    } finally {
      // The child has its own copy of the descriptor.
      closeSync(log);
    }
  }

  /** A crash is counted and, like an orchestrator would, restarted after a second. */
  private watch(slot: Slot): void {
    const child = slot.child;
    child.once('exit', () => {
      if (this.closing || slot.killed || slot.child !== child) return;
      slot.unexpectedExits++;
      setTimeout(() => this.restart(slot), 1000).unref();
    });
  }
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;
