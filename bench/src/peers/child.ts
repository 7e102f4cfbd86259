import { bullmqWorker, type BullWorkerArgs } from './bullmq.js';
import type { ChildIo } from './common.js';
import { pgbossWorker, type PgBossWorkerArgs } from './pgboss.js';
import { rabbitmqConsumer, type ConsumerArgs } from './rabbitmq.js';

/**
 * A consumer process of a peer scenario, forked by `Child` (common.ts): `child.ts <role> <json args>`.
 * The role sets up, says 'ready', works until the bench says 'stop', then closes its connections.
 * Processes rather than worker threads: each has its own event loop and heap, as a real deployment
 * (and Tickwork's worker in the same bench) would.
 */
const [role, json = '{}'] = process.argv.slice(2);
const send = process.send?.bind(process);
if (!send) throw new Error('child.ts runs only as a forked process');

const io: ChildIo = {
  tell: (message) => void send(message),
  stopped: new Promise<void>((resolve) => {
    process.on('message', (message: { type?: string }) => {
      if (message.type === 'stop') resolve();
    });
    // The bench died or was killed: stop rather than linger as an orphan holding connections.
    process.on('disconnect', () => resolve());
  }),
};

async function run(): Promise<void> {
  const args: unknown = JSON.parse(json);
  switch (role ?? '') {
    case 'rabbitmq-consumer':
      return rabbitmqConsumer(args as ConsumerArgs, io);
    case 'bullmq-worker':
      return bullmqWorker(args as BullWorkerArgs, io);
    case 'pgboss-worker':
      return pgbossWorker(args as PgBossWorkerArgs, io);
    default:
      throw new Error(`unknown role ${role}`);
  }
}

try {
  await run();
  process.exitCode = 0;
} catch (error) {
  if (process.connected) io.tell({ type: 'error', message: String(error) });
  console.error(error);
  process.exitCode = 1;
}
// Libraries may keep timers or sockets; the role has closed what matters, so do not wait for them.
process.disconnect?.();
setTimeout(() => process.exit(), 100).unref();
