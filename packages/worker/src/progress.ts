import { toRunProgress, type Logger, type ProgressCall, type ProgressWrite } from '@tickwork/core';

/** Stores reports in one statement; returns the run ids written (writeProgress). */
export type WriteProgress = (reports: readonly ProgressWrite[]) => Promise<Set<number>>;

export interface ProgressWriterOptions {
  /** WORKER_PROGRESS_INTERVAL_MS: writes start at least this far apart. */
  intervalMs: number;
  write: WriteProgress;
  log: Logger;
}

interface Tracked {
  attempt: number;
  /** Its latest report, made JSON only when it is written. */
  latest: ProgressCall | undefined;
  /** Counts the attempt's reports; `written` is the count when the last stored one was taken. */
  reported: number;
  written: number;
}

/**
 * A worker's progress reports (ctx.progress). It keeps only the latest report of each running attempt,
 * and writes the pending ones of all its attempts in one statement, at most once per interval: a task
 * reporting in a tight loop costs a Map update per call and nothing more. A write is best effort: one
 * that fails is tried again at the next interval, and nothing ever waits for one. When an attempt ends,
 * `end` hands back its last report if it may not have been stored yet, for the outcome's own statement
 * to store (a success or failure): the run ends showing how far it got, with no write of its own.
 */
export class ProgressWriter {
  private readonly runs = new Map<number, Tracked>();
  /** Runs with a report not yet taken by a write. */
  private readonly dirty = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private stopped = false;

  constructor(private readonly o: ProgressWriterOptions) {}

  /** An attempt started: returns what its ctx.progress reports to. */
  begin(runId: number, attempt: number): (call: ProgressCall) => void {
    const tracked: Tracked = { attempt, latest: undefined, reported: 0, written: 0 };
    this.runs.set(runId, tracked);
    return (call) => {
      // A report from an attempt that ended (a stray timer of its task) is no longer anyone's.
      if (this.runs.get(runId) !== tracked) return;
      tracked.latest = call;
      tracked.reported++;
      this.dirty.add(runId);
      this.schedule();
    };
  }

  /**
   * The attempt ended: forgets it, and returns its last report as JSON when that report may not be
   * stored (not written, or its write not answered yet), else undefined.
   */
  end(runId: number, attempt: number): string | undefined {
    const tracked = this.runs.get(runId);
    if (tracked?.attempt !== attempt) return undefined;
    this.runs.delete(runId);
    this.dirty.delete(runId);
    const { latest, reported, written } = tracked;
    return latest && reported > written ? JSON.stringify(toRunProgress(latest)) : undefined;
  }

  /** Writes nothing more; waits for a write under way (before the worker ends its pool). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.writing;
  }

  private schedule(): void {
    if (this.timer || this.writing || this.stopped) return;
    const wait = Math.max(0, this.lastWriteAt + this.o.intervalMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing = this.flush().finally(() => {
        this.writing = undefined;
        if (this.dirty.size > 0) this.schedule();
      });
    }, wait);
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    const batch: Array<ProgressWrite & { reported: number }> = [];
    for (const runId of this.dirty) {
      const tracked = this.runs.get(runId);
      if (!tracked?.latest) continue;
      const { attempt, latest, reported } = tracked;
      batch.push({ runId, attempt, progressJson: JSON.stringify(toRunProgress(latest)), reported });
    }
    this.dirty.clear();
    if (batch.length === 0) return;
    this.lastWriteAt = performance.now();
    try {
      const written = await this.o.write(batch);
      for (const { runId, attempt, reported } of batch) {
        const tracked = this.runs.get(runId);
        if (written.has(runId) && tracked?.attempt === attempt)
          tracked.written = Math.max(tracked.written, reported);
      }
    } catch (error) {
      this.o.log.warn({ err: error, runs: batch.length }, 'could not store progress; trying again');
      for (const { runId, attempt } of batch)
        if (this.runs.get(runId)?.attempt === attempt) this.dirty.add(runId);
    }
  }
}
