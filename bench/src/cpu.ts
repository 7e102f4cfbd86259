import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc/<pid>/stat's CPU times, 100 on every Linux we run on. */
export const CLOCK_TICKS = 100;

/** CPU ticks (user + system) of every process now, by pid, with its command line (Linux /proc). */
export function cpuSnapshot(): Map<number, { command: string; ticks: number }> {
  const snapshot = new Map<number, { command: string; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      snapshot.set(pid, { command, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return snapshot;
}

/**
 * CPU seconds each kind of process used between two snapshots, largest first: where the time of a
 * run went (PostgreSQL backends, RabbitMQ, each service, the bench itself). `label` names a command.
 */
export function cpuBetween(
  before: Map<number, { ticks: number }>,
  after: Map<number, { command: string; ticks: number }>,
  label: (command: string) => string,
): Array<{ process: string; cpuSeconds: number }> {
  const totals = new Map<string, number>();
  for (const [pid, now] of after) {
    const used = now.ticks - (before.get(pid)?.ticks ?? 0);
    if (used <= 0) continue;
    const key = pid === process.pid ? 'bench (this process)' : label(now.command);
    totals.set(key, (totals.get(key) ?? 0) + used);
  }
  return [...totals]
    .map(([process, ticks]) => ({ process, cpuSeconds: Number((ticks / CLOCK_TICKS).toFixed(2)) }))
    .sort((a, b) => b.cpuSeconds - a.cpuSeconds);
}

/** Names the processes a Tickwork bench involves; everything else is "other". */
export function labelProcess(command: string): string {
  if (command.startsWith('postgres')) return 'postgresql';
  if (command.includes('beam.smp')) return 'rabbitmq';
  if (command.includes('redis-server')) return 'redis';
  const bundle = /dist\/(\w+)\.js/.exec(command)?.[1];
  if (bundle) return `apps/${bundle}`;
  const script = /(apps\/\w+|bench\/src\/[\w/-]+|scripts\/[\w-]+)/.exec(command);
  if (script?.[1]) return script[1];
  return 'other';
}

/** A process's peak resident set (VmHWM) in MiB, or undefined when it is gone. */
export function peakRssMiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
    return Number.isFinite(kib) ? Math.round(kib / 1024) : undefined;
  } catch {
    return undefined;
  }
}
