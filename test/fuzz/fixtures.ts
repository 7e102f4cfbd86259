import { send } from './http-client.js';
import { parseJson } from './judge.js';
import type { RowLedger } from './row-ledger.js';

/** Rows for path ids to find: schedules, bots (one scraping on its own schedule), runs and webhooks. */
const FIXTURES: ReadonlyArray<{ path: string; body: unknown }> = [
  ...[1, 2, 3].map((i) => ({
    path: '/api/v1/schedules',
    body: {
      name: `fixture schedule ${i}`,
      task: 'diag.echo',
      args: { fixture: i },
      trigger: { type: 'interval', seconds: 3600 },
    },
  })),
  ...[1, 2].map((i) => ({
    path: '/api/v1/bot-configs',
    body: {
      name: `fixture bot ${i}`,
      subreddits: ['python'],
      autoScrapeEnabled: i === 1,
      scrapeIntervalHours: 6,
    },
  })),
  ...[1, 2, 3, 4, 5].map((i) => ({
    path: '/api/v1/tasks',
    body: { task: 'diag.echo', args: { fixture: i } },
  })),
  ...[1, 2].map((i) => ({ path: '/api/v1/webhooks', body: { url: `http://127.0.0.1:9/fixture-${i}` } })),
];

/** Creates the fixtures through the API; their rows are vouched for like any 2xx answer's. */
export async function createFixtures(port: number, token: string, ledger: RowLedger): Promise<void> {
  for (const { path, body } of FIXTURES) {
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const outcome = await send(port, { method: 'POST', path, headers, body: JSON.stringify(body) }, 15_000);
    if (outcome.kind !== 'answer' || outcome.status >= 300)
      throw new Error(
        `fixture POST ${path} failed: ${outcome.kind === 'answer' ? outcome.body.toString() : outcome.kind}`,
      );
    ledger.acknowledge(`POST ${path}`, parseJson(outcome.body));
  }
}
