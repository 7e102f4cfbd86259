interface Waiter {
  priority: number;
  resume: () => void;
}

/**
 * A counting semaphore: at most `size` attempts execute at once (WORKER_CONCURRENCY), whatever the
 * prefetch, however many channels came and went. `acquire` resolves with a release function that is
 * safe to call more than once. A freed slot goes to the waiter of highest priority, first come first
 * served within a priority: a priority delivery that arrives behind prefetched plain ones starts first.
 */
export class Slots {
  private free: number;
  /** Highest priority first, arrival order within a priority. */
  private readonly waiting: Waiter[] = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  async acquire(priority = 0): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resume) => this.enqueue({ priority, resume }));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.resume();
      else this.free++;
    };
  }

  get busy(): number {
    return this.size - this.free;
  }

  /** Deliveries waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  private enqueue(waiter: Waiter): void {
    // The plain path (priority 0 behind priority 0) appends, as a FIFO does; a higher priority goes
    // before the first waiter of a lower one.
    const last = this.waiting[this.waiting.length - 1];
    if (!last || last.priority >= waiter.priority) {
      this.waiting.push(waiter);
      return;
    }
    const at = this.waiting.findIndex((w) => w.priority < waiter.priority);
    this.waiting.splice(at, 0, waiter);
  }
}
