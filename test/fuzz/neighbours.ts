import { send, type Outcome } from './http-client.js';
import type { Finding } from './report.js';
import type { ServerLog } from './server-log.js';
import { parseJson } from './judge.js';
import type { RowLedger } from './row-ledger.js';

/** One valid request sent alongside the fuzz cases, and the markers of the runs it asked for. */
export interface NeighbourResult {
  markers: string[];
  path: string;
  outcome: Outcome;
}

export const NEIGHBOUR_KEY = 'tickworkNeighbour';

/**
 * Valid traffic: `POST /tasks` (diag.echo, a unique marker in args) and, every fourth request, a batch
 * of three. Each shares the API's group-commit INSERTs with whatever fuzz case is in flight.
 */
export class Neighbours {
  readonly results: NeighbourResult[] = [];
  private next = 0;

  constructor(
    private readonly port: number,
    private readonly token: string,
    private readonly deadlineMs: number,
  ) {}

  /** Sends one valid request and records what became of it. */
  async sendOne(): Promise<void> {
    const n = this.next++;
    const batch = n % 4 === 3;
    const markers = batch ? [0, 1, 2].map((i) => `nb-${n}-${i}`) : [`nb-${n}`];
    const task = (marker: string) => ({
      task: 'diag.echo',
      args: { [NEIGHBOUR_KEY]: marker, note: 'valid neighbour' },
    });
    const path = batch ? '/api/v1/tasks/batch' : '/api/v1/tasks';
    const body = JSON.stringify(batch ? { tasks: markers.map(task) } : task(markers[0] ?? ''));
    const headers = { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' };
    const outcome = await send(this.port, { method: 'POST', path, headers, body }, this.deadlineMs);
    this.results.push({ markers, path, outcome });
  }

  /** The run ids of every neighbour that got its 2xx (for the ledger). */
  acknowledge(ledger: RowLedger): void {
    for (const n of this.results)
      if (n.outcome.kind === 'answer' && succeeded(n.outcome))
        ledger.acknowledge(`POST ${n.path}`, parseJson(n.outcome.body));
  }

  /** A steady stream from `concurrency` loops until `done()` and at least `minimum` requests were sent. */
  async stream(concurrency: number, minimum: number, done: () => boolean): Promise<void> {
    const loop = async () => {
      while (!done() || this.next < minimum) await this.sendOne();
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
  }
}

const succeeded = (outcome: Outcome) =>
  outcome.kind === 'answer' && outcome.status >= 200 && outcome.status < 300;

/** Neighbours that did not get their 2xx, with what the server logged for them. */
export function refusedNeighbours(results: readonly NeighbourResult[], serverLog: ServerLog): Finding[] {
  return results
    .filter((n) => !succeeded(n.outcome))
    .map(({ path, markers, outcome }) => {
      const answer =
        outcome.kind === 'answer'
          ? `${outcome.status} ${outcome.body.subarray(0, 300).toString()}`
          : outcome.kind;
      const logged = serverLog
        .problemsFor(outcome.localPort, outcome.startedAt, outcome.endedAt)
        .map((p) => `; server logged: ${p.message}`);
      return {
        kind: 'valid neighbour refused',
        detail: `POST ${path} (${markers.join(', ')}) → ${answer}${logged.join('')}`,
      };
    });
}
