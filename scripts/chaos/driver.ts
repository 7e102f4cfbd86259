import type { Random } from './random.js';

/** Long enough for a stall (at most 3 s) plus a publish confirm timeout (5 s); shorter means a hang. */
const POST_TIMEOUT_MS = 15_000;
/** Past this many unanswered POSTs the driver skips ticks rather than pile requests on a stalled API. */
const MAX_IN_FLIGHT = 300;
/** Plenty of retries: under chaos a run may lose attempts to killed workers before its task even starts. */
const MAX_RETRIES = 10;

export interface DriverFigures {
  /** POSTs answered 202, by run id (a replayed idempotency key answers with the first run's id). */
  accepted: Map<number, string>;
  /** 202 answers, replays of an idempotency key included. */
  answered202: number;
  posted: number;
  /** POSTs not answered 202, by reason: `http 503`, `timeout`, `network`. Not accepted: not counted as tasks. */
  refused: Map<string, number>;
  /** Idempotency keys that were answered with two different run ids (must not happen). */
  idempotencyConflicts: number;
  skippedTicks: number;
  maxLatencyMs: number;
  /** Workflows answered 202 (POST /workflows), by id; their runs are in `accepted` too. */
  workflows: Set<number>;
}

type Body = Record<string, unknown>;

/**
 * Posts a steady mix of tasks to the API: echo, diag.record (short and long, so kills land mid-task),
 * flaky (one failed attempt), delayed ones, and pairs sharing an idempotency key. Every 202 is kept: it
 * is the list of what the system promised to run.
 */
export class Driver {
  readonly figures: DriverFigures = {
    accepted: new Map(),
    answered202: 0,
    posted: 0,
    refused: new Map(),
    idempotencyConflicts: 0,
    skippedTicks: 0,
    maxLatencyMs: 0,
    workflows: new Set(),
  };
  private readonly inFlight = new Set<Promise<void>>();
  private readonly keys = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private owed = 0;
  private sequence = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly random: Random,
    private readonly perSecond: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), 100);
  }

  /** Stops sending and waits for every POST in flight to be answered (or to time out). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.inFlight]);
  }

  private tick(): void {
    this.owed += this.perSecond / 10;
    if (this.inFlight.size >= MAX_IN_FLIGHT) {
      this.figures.skippedTicks++;
      this.owed = 0;
      return;
    }
    for (; this.owed >= 1; this.owed--) for (const body of this.nextBodies()) this.send(body);
  }

  private nextBodies(): Body[] {
    const n = ++this.sequence;
    const r = this.random.next();
    const base = { maxRetries: MAX_RETRIES };
    if (r < 0.15) return [{ ...base, task: 'diag.echo', args: { n } }];
    // Flow control (issue 15): three keys with a limit of 2, and a rate below the mix's peaks.
    if (r < 0.27) {
      const group = `g${this.random.int(1, 3)}`;
      return [{ ...base, task: 'diag.record.keyed', args: { group, sleepMs: this.random.int(0, 400) } }];
    }
    if (r < 0.3) return [{ ...base, task: 'diag.record.rated', args: {} }];
    if (r < 0.55) return [{ ...base, task: 'diag.record', args: { sleepMs: this.random.int(0, 300) } }];
    if (r < 0.65) return [{ ...base, task: 'diag.record', args: { sleepMs: this.random.int(1000, 3000) } }];
    if (r < 0.8) return [{ ...base, task: 'diag.flaky', args: { failUntilAttempt: 2 } }];
    // Workflows (issue 16): a chain of 3 or a chord of 4 with a callback, posted to /workflows.
    if (r < 0.83) {
      this.sendWorkflow(n % 2 === 0);
      return [];
    }
    if (r < 0.93) {
      const task = this.random.next() < 0.5 ? 'diag.record' : 'diag.echo';
      const args = task === 'diag.record' ? { sleepMs: this.random.int(0, 200) } : { n };
      return [{ ...base, task, args, delaySeconds: this.random.int(1, 5) }];
    }
    const body = { ...base, task: 'diag.record', args: {}, idempotencyKey: `chaos-${n}` };
    return [body, body];
  }

  private sendWorkflow(chain: boolean): void {
    const step = () => ({
      type: 'task',
      task: 'diag.record',
      args: { sleepMs: this.random.int(0, 200) },
      maxRetries: MAX_RETRIES,
    });
    const root = chain
      ? { type: 'chain', steps: [step(), step(), step()] }
      : { type: 'chord', group: [step(), step(), step(), step()], callback: step() };
    const request = this.postWorkflow(root).finally(() => this.inFlight.delete(request));
    this.inFlight.add(request);
  }

  private async postWorkflow(root: Body): Promise<void> {
    this.figures.posted++;
    const started = performance.now();
    const outcome = await post(this.baseUrl, '/api/v1/workflows', { root });
    this.figures.maxLatencyMs = Math.max(this.figures.maxLatencyMs, performance.now() - started);
    if (typeof outcome === 'string') {
      this.figures.refused.set(outcome, (this.figures.refused.get(outcome) ?? 0) + 1);
      return;
    }
    const id = outcome.id;
    if (typeof id !== 'number') return;
    this.figures.answered202++;
    this.figures.workflows.add(id);
    for (const runId of runIdsOf(outcome.tree)) this.figures.accepted.set(runId, 'diag.record');
  }

  private send(body: Body): void {
    const request = this.post(body).finally(() => this.inFlight.delete(request));
    this.inFlight.add(request);
  }

  private async post(body: Body): Promise<void> {
    this.figures.posted++;
    const started = performance.now();
    const outcome = await post(this.baseUrl, '/api/v1/tasks', body);
    this.figures.maxLatencyMs = Math.max(this.figures.maxLatencyMs, performance.now() - started);
    if (typeof outcome === 'string') {
      this.figures.refused.set(outcome, (this.figures.refused.get(outcome) ?? 0) + 1);
      return;
    }
    const id = outcome.id;
    if (typeof id !== 'number') {
      this.figures.refused.set('bad 202 body', (this.figures.refused.get('bad 202 body') ?? 0) + 1);
      return;
    }
    this.figures.answered202++;
    this.figures.accepted.set(id, String(body.task));
    const key = body.idempotencyKey;
    if (typeof key !== 'string') return;
    const first = this.keys.get(key);
    if (first === undefined) this.keys.set(key, id);
    else if (first !== id) this.figures.idempotencyConflicts++;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

/** The run ids of a workflow's tree (each task node's runId). */
function runIdsOf(node: unknown): number[] {
  if (Array.isArray(node)) return node.flatMap(runIdsOf);
  if (!isRecord(node)) return [];
  const own = typeof node.runId === 'number' ? [node.runId] : [];
  return [...own, ...Object.values(node).flatMap((v) => (typeof v === 'object' ? runIdsOf(v) : []))];
}

/** The 202's body (a run, a workflow); otherwise why not. */
async function post(baseUrl: string, path: string, body: Body): Promise<Record<string, unknown> | string> {
  try {
    const response = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(POST_TIMEOUT_MS),
    });
    const text = await response.text();
    if (response.status !== 202) return `http ${response.status}`;
    const answer: unknown = JSON.parse(text);
    return isRecord(answer) ? answer : 'bad 202 body';
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    return name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network';
  }
}
