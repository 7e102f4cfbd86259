import type { TcpProxy } from '../../test/support/tcp-proxy.js';
import { sleep } from '../../bench/src/support.js';
import type { Random } from './random.js';
import type { Services } from './services.js';

export const FAULT_KINDS = [
  'kill-worker',
  'kill-scheduler',
  'cut-postgres',
  'cut-rabbitmq',
  'stall-postgres',
  'stall-rabbitmq',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  kind: FaultKind;
  /** Seconds since the soak started. */
  atSeconds: number;
  /** How long the fault lasted (a killed process: until its replacement was started). */
  ms: number;
  target: string;
}

/**
 * One fault at a time, a random pause (`everyMs` ± 40 %) apart. Every fault is short (at most 3 s) and
 * ends with the system whole again: a killed process is restarted after a second, a proxy restored. The
 * misfire grace is 60 s, so no schedule second may be skipped because of a fault.
 */
export class FaultInjector {
  readonly faults: Fault[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly began = Date.now();

  constructor(
    private readonly services: Services,
    private readonly proxies: { postgres: TcpProxy; rabbitmq: TcpProxy },
    private readonly random: Random,
    private readonly everyMs: number,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  /** Lets the fault under way finish (its process restarted, its proxy restored), then stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const pause = this.random.int(Math.round(this.everyMs * 0.6), Math.round(this.everyMs * 1.4));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pause);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (this.stopped) return;
      const kind = this.random.pick(FAULT_KINDS);
      const atSeconds = (Date.now() - this.began) / 1000;
      const started = performance.now();
      const target = await this.inject(kind);
      this.faults.push({ kind, atSeconds, ms: Math.round(performance.now() - started), target });
    }
  }

  private async inject(kind: FaultKind): Promise<string> {
    switch (kind) {
      case 'kill-worker':
      case 'kill-scheduler': {
        const slot = this.random.pick(this.services.of(kind === 'kill-worker' ? 'worker' : 'scheduler'));
        await this.services.kill(slot);
        await sleep(this.random.int(800, 1200));
        this.services.restart(slot);
        return slot.name;
      }
      case 'cut-postgres':
      case 'cut-rabbitmq': {
        // Every connection dropped, and reconnecting refused for a moment: a server restart.
        const proxy = kind === 'cut-postgres' ? this.proxies.postgres : this.proxies.rabbitmq;
        proxy.refuse();
        await sleep(this.random.int(200, 2000));
        proxy.restore();
        return kind.slice(4);
      }
      case 'stall-postgres':
      case 'stall-rabbitmq': {
        // Bytes stop moving without any connection failing: a partition.
        const proxy = kind === 'stall-postgres' ? this.proxies.postgres : this.proxies.rabbitmq;
        proxy.stall();
        await sleep(this.random.int(1000, 3000));
        proxy.restore();
        return kind.slice(6);
      }
    }
  }
}
