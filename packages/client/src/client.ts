/**
 * A small client for Tickwork's HTTP API, with no dependencies (global fetch, Node 20+). Producers
 * should prefer `enqueueMany`: one request and one database statement for up to 1,000 tasks.
 */

export type RunStatus =
  'scheduled' | 'queued' | 'running' | 'succeeded' | 'failed' | 'retrying' | 'cancelled';
export const TERMINAL: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled'];

export interface TaskRequest {
  task: string;
  args?: unknown;
  queue?: 'default' | 'cleanup' | 'scraping';
  delaySeconds?: number;
  /** ISO 8601 date-time. */
  runAt?: string;
  maxRetries?: number;
  timeoutSeconds?: number;
  idempotencyKey?: string;
}

export interface Run {
  id: number;
  task: string;
  status: RunStatus;
  args: unknown;
  result: unknown;
  error: { type: string; message: string; stack?: string } | null;
  attempts: number;
  [field: string]: unknown;
}

/** An answer other than the expected one: the API's problem+json, when it sent one. */
export class TickworkApiError extends Error {
  override readonly name = 'TickworkApiError';
  constructor(
    readonly status: number,
    readonly problem: { title?: string; detail?: string; errors?: Array<{ field: string; message: string }> },
  ) {
    super(`${status} ${problem.title ?? ''}: ${problem.detail ?? ''}`.trim());
  }
}

export interface ClientOptions {
  /** The API's address, e.g. http://127.0.0.1:3000 */
  baseUrl: string;
  /** API_TOKEN of the server, when it has one. */
  token?: string;
}

export class TickworkClient {
  private readonly base: string;

  constructor(private readonly options: ClientOptions) {
    this.base = `${options.baseUrl.replace(/\/$/, '')}/api/v1`;
  }

  /** Accepts one task; `replayed` when its idempotencyKey was seen before. */
  async enqueue(task: TaskRequest): Promise<{ run: Run; replayed: boolean }> {
    const response = await this.request('POST', '/tasks', task, 202);
    return {
      run: (await response.json()) as Run,
      replayed: response.headers.get('idempotent-replayed') === 'true',
    };
  }

  /** Accepts up to 1,000 tasks, all or none; runs come back in the order given. */
  async enqueueMany(tasks: readonly TaskRequest[]): Promise<{ runs: Run[]; replayed: number[] }> {
    const response = await this.request('POST', '/tasks/batch', { tasks }, 202);
    return (await response.json()) as { runs: Run[]; replayed: number[] };
  }

  async getRun(id: number): Promise<Run> {
    return (await (await this.request('GET', `/runs/${id}`, undefined, 200)).json()) as Run;
  }

  /** Polls until the run is succeeded, failed or cancelled; throws when `timeoutMs` passes first. */
  async waitForRun(id: number, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<Run> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const run = await this.getRun(id);
      if (TERMINAL.includes(run.status)) return run;
      if (Date.now() > deadline) throw new Error(`run ${id} still ${run.status} after the timeout`);
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
    }
  }

  private async request(method: string, path: string, body: unknown, expected: number): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (response.status !== expected) {
      const text = await response.text();
      let problem: TickworkApiError['problem'] = { detail: text };
      try {
        problem = JSON.parse(text) as TickworkApiError['problem'];
      } catch {
        // Not problem+json: keep the text.
      }
      throw new TickworkApiError(response.status, problem);
    }
    return response;
  }
}
