import { describe, expect, it } from 'vitest';
import { checkProgress, createLogger, type ProgressWrite } from '@tickwork/core';
import { ProgressWriter } from '../../packages/worker/src/progress.js';

/*
 * The worker's progress throttle (packages/worker/src/progress.ts), with a recording stand-in for the
 * database write: what it writes, how often, and what it hands the outcome when an attempt ends.
 */

const log = createLogger({ level: 'silent', service: 'test' });

interface Write {
  at: number;
  reports: ProgressWrite[];
}

/** A writer whose writes are recorded; `answer` decides what each write reports as written. */
function recording(
  intervalMs: number,
  answer: (reports: readonly ProgressWrite[]) => Promise<Set<number>> = (reports) =>
    Promise.resolve(new Set(reports.map((r) => r.runId))),
) {
  const writes: Write[] = [];
  const writer = new ProgressWriter({
    intervalMs,
    log,
    write: (reports) => {
      writes.push({ at: performance.now(), reports: [...reports] });
      return answer(reports);
    },
  });
  return { writer, writes };
}

const until = async (ok: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};
const parsed = (w: ProgressWrite) => JSON.parse(w.progressJson) as Record<string, unknown>;

describe('ProgressWriter', () => {
  it('writes 100,000 reports of a tight loop as one: the latest', async () => {
    const { writer, writes } = recording(1000);
    const report = writer.begin(1, 1);
    for (let i = 1; i <= 100_000; i++) report(checkProgress({ done: i, total: 100_000 }, `item ${i}`));
    await until(() => writes.length === 1);
    expect(writes[0]!.reports).toHaveLength(1);
    expect(writes[0]!.reports[0]).toMatchObject({ runId: 1, attempt: 1 });
    expect(parsed(writes[0]!.reports[0]!)).toMatchObject({
      fraction: 1,
      done: 100_000,
      message: 'item 100000',
    });
    // Written and answered: nothing left for the outcome to carry.
    await until(() => writer.end(1, 1) === undefined);
    await writer.stop();
    expect(writes).toHaveLength(1);
  });

  it('writes all its attempts in one statement, at most once per interval', async () => {
    const interval = 100;
    const { writer, writes } = recording(interval);
    const a = writer.begin(1, 1);
    const b = writer.begin(2, 3);
    const until500 = performance.now() + 500;
    let n = 0;
    while (performance.now() < until500) {
      a(checkProgress(++n / 1e9));
      b(checkProgress({ done: n }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writer.stop();
    // 500 ms of reports: the first write at once, then one per interval at most.
    expect(writes.length).toBeGreaterThanOrEqual(2);
    expect(writes.length).toBeLessThanOrEqual(Math.ceil(500 / interval) + 1);
    for (const [i, w] of writes.entries()) {
      expect(w.reports.map((r) => [r.runId, r.attempt])).toEqual([
        [1, 1],
        [2, 3],
      ]);
      if (i > 0) expect(w.at - writes[i - 1]!.at).toBeGreaterThanOrEqual(interval - 2);
    }
  });

  it('hands the outcome the last report when it may not be stored, and ignores reports after the end', async () => {
    let release!: (written: Set<number>) => void;
    const { writer, writes } = recording(
      10,
      () => new Promise<Set<number>>((resolve) => (release = resolve)),
    );
    const report = writer.begin(7, 2);
    report(checkProgress(0.25, 'first'));
    await until(() => writes.length === 1);
    report(checkProgress(0.5, 'second'));
    // A write is under way (not answered): the next waits for it, whatever the interval.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(writes).toHaveLength(1);
    const last = writer.end(7, 2);
    expect(JSON.parse(last!)).toMatchObject({ fraction: 0.5, message: 'second' });
    report(checkProgress(0.75, 'after the end'));
    release(new Set([7]));
    await writer.stop();
    expect(writes).toHaveLength(1);
    // Another attempt of the same run is tracked afresh; a report not written by its write goes with it.
    const { writer: other } = recording(10, () => Promise.resolve(new Set()));
    const again = other.begin(7, 3);
    again(checkProgress({ done: 1, total: 4 }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(JSON.parse(other.end(7, 3)!)).toMatchObject({ done: 1, total: 4 });
    expect(other.end(7, 2)).toBeUndefined();
    await other.stop();
  });

  it('tries a failed write again at the next interval', async () => {
    let fail = true;
    const { writer, writes } = recording(30, (reports) => {
      if (fail) {
        fail = false;
        return Promise.reject(new Error('connection lost'));
      }
      return Promise.resolve(new Set(reports.map((r) => r.runId)));
    });
    writer.begin(3, 1)(checkProgress(0.1, 'once'));
    await until(() => writes.length === 2);
    expect(writes[1]!.at - writes[0]!.at).toBeGreaterThanOrEqual(28);
    expect(parsed(writes[1]!.reports[0]!)).toMatchObject({ message: 'once' });
    await until(() => writer.end(3, 1) === undefined);
    await writer.stop();
  });
});
