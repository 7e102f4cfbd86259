import type { Broker, Pool } from '@tickwork/core';

/** How long the management API takes to answer (undefined: it did not, within 5 s). */
async function managementLatency(managementUrl: string): Promise<number | undefined> {
  const url = new URL('api/overview', managementUrl.replace(/\/?$/, '/'));
  const user = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  const started = Date.now();
  const ok = await fetch(url, {
    headers: { authorization: `Basic ${Buffer.from(user).toString('base64')}` },
    signal: AbortSignal.timeout(5000),
  }).then(
    (r) => r.ok,
    () => false,
  );
  return ok ? Date.now() - started : undefined;
}

async function postgresAnswers(pool: Pool): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 2000)));
  const query = pool.query('SELECT 1').then(
    () => true,
    () => false,
  );
  return Promise.race([query, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Probes what a 503 from /readyz or /queues may blame, the way the API reaches it, right after the
 * answer: a 503 counts only if one of them really is down. Names those down, or undefined.
 */
export function dependencyProbe(deps: { managementUrl: string; pool: Pool; broker: Broker }) {
  return async (): Promise<string | undefined> => {
    const down: string[] = [];
    const management = await managementLatency(deps.managementUrl);
    // Slower than the API's own 5 s wait allows, once its other work is counted, is as good as down.
    if (management === undefined || management > 2500)
      down.push(`RabbitMQ management API (${management === undefined ? 'no answer' : `${management} ms`})`);
    if (!(await postgresAnswers(deps.pool))) down.push('PostgreSQL');
    if (!deps.broker.isConnected) down.push('RabbitMQ connection');
    return down.length > 0 ? down.join(', ') : undefined;
  };
}
