import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@tickwork/core';

/** One error or warning the API logged, with the request it was logged for. */
export interface LoggedProblem {
  reqId: string;
  level: number;
  message: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The innermost cause of a logged error (pino appends causes to the stack), else its first line. */
function rootCause(err: Record<string, unknown>): string | undefined {
  const causes = typeof err.stack === 'string' ? [...err.stack.matchAll(/^caused by: (.*)$/gm)] : [];
  const last = causes.at(-1)?.[1];
  if (last !== undefined) return last;
  return typeof err.message === 'string' ? err.message.split('\n')[0] : undefined;
}

/**
 * The API's log, kept in memory: what the server said about a request that failed (Fastify logs each
 * request's client port with its id), and whether a secret ever reached the log.
 */
export class ServerLog {
  readonly lines: string[] = [];
  readonly logger: Logger;
  private index?: {
    incoming: Map<number, Array<{ reqId: string; time: number }>>;
    problems: Map<string, LoggedProblem[]>;
  };

  constructor() {
    const lines = this.lines;
    const sink = new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    });
    this.logger = createLogger({ level: 'info', service: 'api' }, sink);
  }

  /** Errors and warnings logged for the request sent from `localPort` between `from` and `to`. */
  problemsFor(localPort: number | undefined, from: number, to: number): LoggedProblem[] {
    if (localPort === undefined) return [];
    const { incoming, problems } = this.indexed();
    return (incoming.get(localPort) ?? [])
      .filter(({ time }) => time >= from - 1000 && time <= to + 1000)
      .flatMap(({ reqId }) => problems.get(reqId) ?? []);
  }

  /** Lines containing `secret`, with the secret itself masked. */
  linesContaining(secret: string): string[] {
    return this.lines
      .filter((line) => line.includes(secret))
      .map((line) => line.replaceAll(secret, '<TOKEN>'));
  }

  private indexed() {
    if (this.index) return this.index;
    const incoming = new Map<number, Array<{ reqId: string; time: number }>>();
    const problems = new Map<string, LoggedProblem[]>();
    for (const line of this.lines) {
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if (!isRecord(entry) || typeof entry.reqId !== 'string') continue;
      const level = typeof entry.level === 'number' ? entry.level : 0;
      // One line per request names its client port: "request completed" (at info for 4xx/5xx and changes).
      if (
        (entry.msg === 'request completed' || entry.msg === 'incoming request') &&
        isRecord(entry.req) &&
        typeof entry.req.remotePort === 'number'
      ) {
        const port = entry.req.remotePort;
        incoming.set(port, [
          ...(incoming.get(port) ?? []),
          { reqId: entry.reqId, time: Date.parse(String(entry.time)) },
        ]);
      } else if (level >= 40) {
        const err = isRecord(entry.err) ? entry.err : {};
        const message = [entry.msg, err.type, rootCause(err)].filter((s) => typeof s === 'string').join(': ');
        problems.set(entry.reqId, [
          ...(problems.get(entry.reqId) ?? []),
          { reqId: entry.reqId, level, message },
        ]);
      }
    }
    this.index = { incoming, problems };
    return this.index;
  }
}
