import { createHash } from 'node:crypto';

/**
 * What makes two requests "the same" for an idempotency key: the run they ask for (task, args, queue,
 * options, when). Object keys are sorted, so `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same request;
 * array order matters. SHA-256 of that canonical JSON.
 */
export function requestFingerprint(run: {
  task: string;
  args: unknown;
  queue: string;
  maxRetries: number;
  timeoutSeconds: number;
  delaySeconds?: number;
  runAt?: Date;
  priority?: number;
  resultTtlSeconds?: number;
}): Buffer {
  const request = {
    task: run.task,
    args: run.args ?? null,
    queue: run.queue,
    maxRetries: run.maxRetries,
    timeoutSeconds: run.timeoutSeconds,
    delaySeconds: run.delaySeconds ?? null,
    runAt: run.runAt?.toISOString() ?? null,
    // Only when the request gives one: fingerprints of requests without it stay as they were.
    priority: run.priority,
    resultTtlSeconds: run.resultTtlSeconds,
  };
  return createHash('sha256').update(canonicalJson(request)).digest();
}

/** JSON with object keys sorted, at every level. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
