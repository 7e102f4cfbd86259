import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, it } from 'vitest';
import { createTestEnv, type TestEnv } from './support/env.js';
import { startApi } from './support/stack.js';
let env: TestEnv;
let s: Awaited<ReturnType<typeof startApi>>;
let port: number;
beforeAll(async () => { env = await createTestEnv(); s = await startApi(env, { API_RATE_LIMIT: '0' }); await s.api.listen({ port: 0, host: '127.0.0.1' }); port = (s.api.server.address() as AddressInfo).port; });
afterAll(async () => { await s.api.close(); await s.broker.stop(); await env.cleanup(); });
const once = (path: string) => new Promise<number>((resolve) => {
  const req = http.request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
    if (res.headers['content-type']?.startsWith('text/event-stream')) { req.destroy(); resolve(res.statusCode ?? 0); return; }
    res.resume(); res.on('end', () => resolve(res.statusCode ?? 0));
  });
  req.on('error', () => resolve(-1));
  req.end();
});
it('no leak', async () => {
  const paths = ['/api/v1/events', '/api/v1/events?lastEventId=0-0', '/api/v1/events?type=run.*&runId=1,2,3', '/api/v1/events?lastEventId=bad'];
  const until = Date.now() + 30_000;
  let n = 0;
  const codes: Record<number, number> = {};
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (Date.now() < until) { const c = await once(paths[n++ % paths.length]!); codes[c] = (codes[c] ?? 0) + 1; if (n % 500 === 0) console.log(n, Math.round(process.memoryUsage().heapUsed / 1e6), 'MB'); }
  }));
  console.log('codes', codes, 'heap', Math.round(process.memoryUsage().heapUsed / 1e6));
}, 120_000);
