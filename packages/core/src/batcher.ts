interface Pending<In, Out> {
  item: In;
  resolve: (out: Out) => void;
  reject: (error: unknown) => void;
}

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
      await this.writeAll(batch);
    } finally {
      this.running--;
      this.writing -= batch.length;
      this.schedule();
    }
  }

  /**
   * Writes a batch and settles its calls; on an isolatable failure, each half again, so the error stays
   * with its culprit. In order, one half after the other: ids keep ascending with the input order.
   */
  private async writeAll(batch: Array<Pending<In, Out>>): Promise<void> {
    let results: Out[];
    try {
      results = await this.write(batch.map((p) => p.item));
      if (results.length !== batch.length)
        throw new Error(`batch write returned ${results.length} results for ${batch.length} items`);
    } catch (error) {
      if (batch.length === 1 || !this.isolate(error)) {
        for (const p of batch) p.reject(error);
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await this.writeAll(batch.slice(0, half));
      await this.writeAll(batch.slice(half));
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i] as Out));
  }
}
