import { describe, expect, it } from 'vitest';
import type { Trigger } from '@tickwork/core';
import { planFires, type FirePolicy } from '../../apps/scheduler/src/fire-plan.js';

/** The misfire rules (APScheduler's grace, coalesce and max instances), as a pure function of time. */
const now = new Date('2026-06-01T12:00:00.000Z');
const at = (secondsFromNow: number) => new Date(now.getTime() + secondsFromNow * 1000);
const every = (seconds: number, startAt: Date): Trigger => ({
  type: 'interval',
  seconds,
  startAt: startAt.toISOString(),
});
const policy = (p: Partial<FirePolicy> = {}): FirePolicy => ({
  misfireGraceSeconds: 60,
  coalesceMissed: true,
  maxInstances: 1,
  ...p,
});

describe('planFires', () => {
  it('fires a due time on time and moves to the next one', () => {
    const plan = planFires(every(1, at(-10)), now, now, policy(), 0);
    expect(plan).toEqual({ fire: [now], missed: 0, next: at(1) });
  });

  it('fires a due time that is late but within the grace', () => {
    const plan = planFires(every(3600, at(-59)), at(-59), now, policy(), 0);
    expect(plan).toEqual({ fire: [at(-59)], missed: 0, next: at(3541) });
  });

  it('skips a due time later than the grace and counts it', () => {
    const plan = planFires(every(3600, at(-61)), at(-61), now, policy(), 0);
    expect(plan).toEqual({ fire: [], missed: 1, next: at(3539) });
  });

  describe('after an hour down, a per-minute schedule', () => {
    const trigger = every(60, at(-3600));
    it('with the defaults (grace 60 s, coalesce) runs once, for the newest due time', () => {
      const plan = planFires(trigger, at(-3600), now, policy(), 0);
      expect(plan).toEqual({ fire: [now], missed: 60, next: at(60) });
    });

    it('without coalescing runs each due time within the grace', () => {
      const plan = planFires(trigger, at(-3600), now, policy({ coalesceMissed: false, maxInstances: 5 }), 0);
      expect(plan).toEqual({ fire: [at(-60), now], missed: 59, next: at(60) });
    });

    it('with no grace limit and coalescing runs once', () => {
      const plan = planFires(trigger, at(-3600), now, policy({ misfireGraceSeconds: null }), 0);
      expect(plan).toEqual({ fire: [now], missed: 60, next: at(60) });
    });

    it('with no grace limit and no coalescing catches up oldest first, as far as maxInstances allows', () => {
      const p = policy({ misfireGraceSeconds: null, coalesceMissed: false, maxInstances: 3 });
      const plan = planFires(trigger, at(-3600), now, p, 1);
      expect(plan).toEqual({ fire: [at(-3600), at(-3540)], missed: 59, next: at(60) });
    });
  });

  it('skips a fire while maxInstances runs are unfinished', () => {
    expect(planFires(every(1, now), now, now, policy({ maxInstances: 2 }), 2)).toEqual({
      fire: [],
      missed: 1,
      next: at(1),
    });
    expect(planFires(every(1, now), now, now, policy({ maxInstances: 2 }), 1).fire).toEqual([now]);
  });

  it('with grace 0 runs only a due time that is exactly on time', () => {
    expect(planFires(every(10, now), now, now, policy({ misfireGraceSeconds: 0 }), 0).fire).toEqual([now]);
    expect(planFires(every(10, at(-0.001)), at(-0.001), now, policy({ misfireGraceSeconds: 0 }), 0)).toEqual({
      fire: [],
      missed: 1,
      next: at(9.999),
    });
  });

  it('fires a date trigger once and then has no next fire', () => {
    const trigger: Trigger = { type: 'date', runAt: at(-1).toISOString() };
    expect(planFires(trigger, at(-1), now, policy(), 0)).toEqual({ fire: [at(-1)], missed: 0, next: null });
  });

  it('skips ahead over a backlog too long to enumerate, still running the newest due time', () => {
    const tenDays = 10 * 24 * 3600;
    const plan = planFires(every(1, at(-tenDays)), at(-tenDays), now, policy(), 0);
    expect(plan.fire).toEqual([now]);
    expect(plan.next).toEqual(at(1));
    expect(plan.missed).toBeGreaterThanOrEqual(100_000);
  });
});
