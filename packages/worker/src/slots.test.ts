import { describe, expect, it } from 'vitest';
import { Slots } from './slots.js';

/** Lets pending promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Starts `acquire(priority)` and records `name` in `started` when it gets its slot. */
function waitFor(slots: Slots, priority: number, name: string, started: string[]) {
  return slots.acquire(priority).then((release) => {
    started.push(name);
    return release;
  });
}

describe('Slots', () => {
  it('never lets more than its size in at once', async () => {
    const slots = new Slots(2);
    const started: string[] = [];
    const first = await waitFor(slots, 0, 'a', started);
    await waitFor(slots, 0, 'b', started);
    const third = waitFor(slots, 0, 'c', started);
    await settle();
    expect(started).toEqual(['a', 'b']);
    expect(slots.busy).toBe(2);
    expect(slots.queued).toBe(1);
    first();
    first(); // a second call frees nothing more
    await third;
    expect(started).toEqual(['a', 'b', 'c']);
    expect(slots.busy).toBe(2);
    expect(slots.queued).toBe(0);
  });

  it('gives a freed slot to the highest priority, first come first served within one', async () => {
    const slots = new Slots(1);
    const started: string[] = [];
    const release = await waitFor(slots, 0, 'running', started);
    // Each waiter frees its slot as soon as it has it: the slot passes down the wait list in its order.
    const waiters = (
      [
        [0, 'plain 1'],
        [0, 'plain 2'],
        [1, 'high 1'],
        [0, 'plain 3'],
        [5, 'top'],
        [1, 'high 2'],
      ] as const
    ).map(([priority, name]) => waitFor(slots, priority, name, started).then((free) => free()));
    await settle();
    expect(slots.queued).toBe(6);
    release();
    await Promise.all(waiters);
    expect(started).toEqual(['running', 'top', 'high 1', 'high 2', 'plain 1', 'plain 2', 'plain 3']);
    expect(slots.busy).toBe(0);
  });

  it('lets a priority waiter that arrives behind a long plain backlog in next', async () => {
    const slots = new Slots(2);
    const started: string[] = [];
    const running = [await waitFor(slots, 0, 'r1', started), await waitFor(slots, 0, 'r2', started)];
    const backlog = Array.from({ length: 1000 }, (_, i) => waitFor(slots, 0, `plain ${i}`, started));
    const high = waitFor(slots, 1, 'high', started);
    await settle();
    running[0]!();
    const releaseHigh = await high;
    await settle();
    expect(started).toEqual(['r1', 'r2', 'high']);
    // The backlog then drains in its order as slots free.
    releaseHigh();
    running[1]!();
    for (const waiter of backlog) (await waiter)();
    expect(started.slice(3, 6)).toEqual(['plain 0', 'plain 1', 'plain 2']);
    expect(started).toHaveLength(1003);
    expect(slots.busy).toBe(0);
  });
});
