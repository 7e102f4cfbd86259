/**
 * A counting semaphore: at most `size` attempts execute at once (WORKER_CONCURRENCY), whatever the
 * prefetch, however many channels came and went. `acquire` resolves with a release function that is
 * safe to call more than once.
 */
export class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }

  get busy(): number {
    return this.size - this.free;
  }
}
