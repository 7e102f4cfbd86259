interface Pending<In, Out> {
  item: In;
  resolve: (out: Out) => void;
  reject: (error: unknown) => void;
}

type Settled<Out> = { ok: true; value: Out } | { ok: false; error: unknown };

/**
 * Group commit: calls that arrive while a batch is being written wait and go together in the next
 * one. Alone, a call is written at once (one turn of the event loop later); under load each statement
 * carries everything that queued behind the previous one, so round trips per item fall as load rises
 * and no timer ever holds an item back.
 *
 * One item must not fail its neighbours: when a batch fails with an error `isolate` accepts, it is
 * written again in halves, down to single items, so only the items that fail alone get the error.
 * (Each write is one statement, so a failed one stored nothing and may be repeated.)
 */
export class Batcher<In, Out> {
  private queue: Array<Pending<In, Out>> = [];
  private running = 0;
  private writing = 0;
  private scheduled = false;

  /**
   * `write` gets up to `maxBatch` items and returns one result per item, in order; `parallel` batches
   * may be in flight at once. `isolate` says whether a failed batch of several items should be split to
   * find the culprit: true for errors one item can cause (a value the database refuses), false for
   * those every item would meet again (the database is down). By default a batch fails as a whole.
   */
  constructor(
    private readonly write: (items: In[]) => Promise<Out[]>,
    private readonly maxBatch = 500,
    private readonly parallel = 1,
    private readonly isolate: (error: unknown) => boolean = () => false,
  ) {}

  add(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting for a batch or being written. */
  get size(): number {
    return this.queue.length + this.writing;
  }

  private schedule(): void {
    if (this.scheduled || this.running >= this.parallel || this.queue.length === 0) return;
    this.scheduled = true;
    // One macrotask later: everything that arrived in the same turn (one socket read) joins.
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.running >= this.parallel || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatch);
    this.running++;
    this.writing += batch.length;
    try {
      const settled = await this.settle(batch.map((p) => p.item));
      batch.forEach((p, i) => {
        const s = settled[i]!;
        if (s.ok) p.resolve(s.value);
        else p.reject(s.error);
      });
    } finally {
      this.running--;
      this.writing -= batch.length;
      this.schedule();
    }
  }

  /** Writes `items`; on an isolatable failure, each half again, so the error stays with its culprit. */
  private async settle(items: In[]): Promise<Array<Settled<Out>>> {
    try {
      const results = await this.write(items);
      if (results.length !== items.length)
        throw new Error(`batch write returned ${results.length} results for ${items.length} items`);
      return results.map((value) => ({ ok: true, value }));
    } catch (error) {
      if (items.length === 1 || !this.isolate(error)) return items.map(() => ({ ok: false, error }));
      const half = Math.ceil(items.length / 2);
      // In order, one half after the other: ids keep ascending with the input order.
      return [...(await this.settle(items.slice(0, half))), ...(await this.settle(items.slice(half)))];
    }
  }
}
