import type { ConfirmChannel, GetMessage } from 'amqplib';
import { DEAD_LETTER_QUEUE, TASK_EXCHANGE, metricsRegistry } from '@tickwork/core';

/** Publishes a raw body to a task queue, as any publisher could, and waits for RabbitMQ's confirm. */
export function publishRaw(channel: ConfirmChannel, body: string | Buffer, queue = 'default'): Promise<void> {
  const content = typeof body === 'string' ? Buffer.from(body) : body;
  return new Promise<void>((resolve, reject) => {
    channel.publish(TASK_EXCHANGE, queue, content, { persistent: true }, (error: unknown) =>
      error
        ? reject(error instanceof Error ? error : new Error(`publish to ${queue} not confirmed`))
        : resolve(),
    );
  });
}

/** Takes every message now in the dead-letter queue off it. */
export async function takeDeadLetters(channel: ConfirmChannel): Promise<GetMessage[]> {
  const taken: GetMessage[] = [];
  for (;;) {
    const message = await channel.get(DEAD_LETTER_QUEUE, { noAck: true });
    if (message === false) return taken;
    taken.push(message);
  }
}

/** The value of a counter of this process's registry for one label set (0 before its first increment). */
export async function counterValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = metricsRegistry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return match?.value ?? 0;
}
