import { publishable, publishRuns, type Broker, type Logger, type Pool, type RunRow } from '@tickwork/core';

/** The fast path after a run committed as queued: publish it now rather than wait for the relay. */
export async function publishNow(
  deps: { pool: Pool; broker: Broker; logger: Logger },
  run: RunRow,
): Promise<void> {
  const message = publishable(run);
  if (message) await publishRuns(deps, [message]);
}
