import { parseArgs } from 'node:util';
import { tickworkLateness } from './tickwork/lateness.js';

/**
 * `npm run bench:lateness`: the lateness scenario (tickwork/lateness.ts) alone, with every knob:
 *   --schedules N --seconds S --schedulers K --workers W --warmup S --spread ms|second
 *   --delayed-per-second D --port P
 * Prints a JSON line and a table per Result; exits 1 when a check failed. See docs/benchmarks.md.
 */
const { values } = parseArgs({
  options: {
    schedules: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '30' },
    schedulers: { type: 'string', default: '1' },
    workers: { type: 'string', default: '0' },
    warmup: { type: 'string', default: '5' },
    spread: { type: 'string', default: 'ms' },
    'delayed-per-second': { type: 'string', default: '20' },
    port: { type: 'string', default: '3917' },
  },
});

function whole(option: Exclude<keyof typeof values, 'spread'>, min: number): number {
  const n = Number(values[option]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${option} must be a whole number ≥ ${min}`);
  return n;
}

const spread = values.spread;
if (spread !== 'ms' && spread !== 'second') throw new Error('--spread must be ms or second');

const results = await tickworkLateness({
  schedules: whole('schedules', 1),
  seconds: whole('seconds', 1),
  schedulers: whole('schedulers', 1),
  workers: whole('workers', 0),
  warmup: whole('warmup', 1),
  spread,
  delayedPerSecond: whole('delayed-per-second', 0),
  port: whole('port', 1),
});
if (results.some((r) => r.failed)) process.exitCode = 1;
