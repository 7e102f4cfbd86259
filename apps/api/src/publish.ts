import {
  publishRuns,
  type Broker,
  type Logger,
  type Pool,
  type QueueName,
  type RunRow,
} from '@tickwork/shared';

/** The fast path after a run committed as queued: publish it now rather than wait for the relay. */
export async function publishNow(
  deps: { pool: Pool; broker: Broker; logger: Logger },
  run: RunRow,
): Promise<void> {
  if (run.status !== 'queued' || run.publishedAt) return;
  await publishRuns(deps, [{ id: run.id, task: run.task, queue: run.queue as QueueName }]);
}
