import { Batcher, claimRuns, type ClaimOutcome, type MessageRef, type Pool } from '@tickwork/core';
import type { Store } from './outcome.js';

/**
 * One key per (run, task, queue): messages that disagree about a run are not each other's copies. NUL
 * separates the parts: no task name (decodeTaskMessage refuses it) or queue name holds one.
 */
export const messageKey = (m: MessageRef): string => `${m.runId}\u0000${m.queue}\u0000${m.task}`;

/**
 * A worker's claims: concurrent deliveries share one statement (see Batcher), and each message gets
 * the run it claimed (started, or held back by flow control), or undefined (the run is not claimable,
 * or is not the run the message says).
 * Two messages naming one run never share a statement (claimRuns compares each run with one message):
 * the later waits for the earlier's claim. A copy of a message being claimed is the caller's to drop.
 */
export class Claims {
  /** Messages whose claim is being written: a second copy of one of them is a duplicate. */
  private readonly pending = new Set<string>();
  /** The claim under way for each run id. */
  private readonly byRun = new Map<number, Promise<unknown>>();
  private readonly batcher: Batcher<MessageRef, ClaimOutcome | undefined>;

  constructor(pool: Pool, workerId: string, store: Store) {
    this.batcher = new Batcher(
      (messages) =>
        store('claim runs', async () => {
          const claimed = await claimRuns(pool, messages, workerId);
          const byKey = new Map(
            claimed.map((c) => {
              const run = c.started ? c.run : c.held;
              return [messageKey({ runId: run.id, task: run.task, queue: run.queue }), c];
            }),
          );
          return messages.map((m) => byKey.get(messageKey(m)));
        }),
      500,
      1,
    );
  }

  isPending(message: MessageRef): boolean {
    return this.pending.has(messageKey(message));
  }

  async claim(message: MessageRef): Promise<ClaimOutcome | undefined> {
    const key = messageKey(message);
    this.pending.add(key);
    try {
      for (let other = this.byRun.get(message.runId); other; other = this.byRun.get(message.runId))
        await other.catch(() => undefined);
      const claim = this.batcher.add(message);
      this.byRun.set(message.runId, claim);
      try {
        return await claim;
      } finally {
        if (this.byRun.get(message.runId) === claim) this.byRun.delete(message.runId);
      }
    } finally {
      this.pending.delete(key);
    }
  }
}
