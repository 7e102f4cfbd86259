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
 */
export class Batcher<In, Out> {
  private queue: Array<Pending<In, Out>> = [];
  private running = 0;
  private writing = 0;
  private scheduled = false;

  /**
   * `write` gets up to `maxBatch` items and returns one result per item, in order; when it throws,
   * every item of that batch is rejected with the error. `parallel` batches may be in flight at once.
   */
  constructor(
    private readonly write: (items: In[]) => Promise<Out[]>,
    private readonly maxBatch = 500,
    private readonly parallel = 1,
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
      const results = await this.write(batch.map((p) => p.item));
      if (results.length !== batch.length)
        throw new Error(`batch write returned ${results.length} results for ${batch.length} items`);
      batch.forEach((p, i) => p.resolve(results[i] as Out));
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      this.running--;
      this.writing -= batch.length;
      this.schedule();
    }
  }
}
