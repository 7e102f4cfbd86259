/**
 * Delay before retry number `attempt` (1 = the first retry): exponential, capped, with "equal jitter"
 * so that a burst of failures does not retry in lock-step, yet never waits less than half the step.
 */
export function retryDelayMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}
