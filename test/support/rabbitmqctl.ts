import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { management } from './services.js';

const run = promisify(execFile);

/** Evaluates an Erlang expression on the broker node and returns what it printed. */
export async function rabbitEval(expression: string): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['eval', expression], { timeout: 60_000 });
  return stdout.trim();
}

/**
 * Why `rabbitmqctl` cannot reconfigure the broker the tests use, or undefined when it can. It must be
 * on PATH, allowed to talk to the node (root or the Erlang cookie) and reach the same node as the
 * management API (not, say, a local broker while the tests run against a container).
 */
export async function rabbitmqctlProblem(managementUrl: string): Promise<string | undefined> {
  let node: string;
  try {
    node = (await rabbitEval('node().')).replace(/^'|'$/g, '');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    return code === 'ENOENT'
      ? 'rabbitmqctl is not on PATH (a broker in Docker/testcontainers cannot be reconfigured from here)'
      : `rabbitmqctl cannot reach the broker: ${message.split('\n')[0]}`;
  }
  try {
    const response = await management(managementUrl, 'GET', '/api/overview');
    const overview = (await response.json()) as { node?: string };
    if (overview.node !== node)
      return `rabbitmqctl reaches node ${node}, but the tests' broker is ${overview.node}`;
  } catch (error) {
    return `cannot read the broker's node name: ${(error as Error).message}`;
  }
  return undefined;
}

/**
 * Changes `rabbit` application settings on the running node and puts back what was there before
 * (the exact Erlang term, or unset), however many times `set` ran. They are node-wide: keep the window
 * short and always `restore()` (afterAll too).
 */
export class RabbitSettings {
  /** The original term of each key changed, or null when it was unset. */
  private readonly originals = new Map<string, string | null>();

  async set(values: Record<string, number>): Promise<void> {
    const keys = Object.keys(values).filter((key) => !this.originals.has(key));
    if (keys.length > 0) {
      const read = await rabbitEval(
        `[application:get_env(rabbit, ${keys.join('), application:get_env(rabbit, ')})].`,
      );
      const terms = parseGetEnvList(read, keys.length);
      keys.forEach((key, i) => this.originals.set(key, terms[i] ?? null));
    }
    await rabbitEval(
      Object.entries(values)
        .map(([key, value]) => `application:set_env(rabbit, ${key}, ${Math.trunc(value)})`)
        .join(', ') + '.',
    );
  }

  /** Restores `keys` (default: all changed so far). */
  async restore(keys: string[] = [...this.originals.keys()]): Promise<void> {
    const statements = keys.flatMap((key) => {
      if (!this.originals.has(key)) return [];
      const original = this.originals.get(key);
      this.originals.delete(key);
      return [
        original === null || original === undefined
          ? `application:unset_env(rabbit, ${key})`
          : `application:set_env(rabbit, ${key}, ${original})`,
      ];
    });
    if (statements.length > 0) await rabbitEval(`${statements.join(', ')}.`);
  }

  /** The current value of a key, as rabbitmqctl prints `application:get_env` (e.g. `{ok,1800000}`). */
  static read(key: string): Promise<string> {
    return rabbitEval(`application:get_env(rabbit, ${key}).`);
  }
}

/** `[{ok,1800000},undefined]` → ['1800000', undefined]; values here are plain integers. */
function parseGetEnvList(printed: string, count: number): Array<string | undefined> {
  const items = printed.replace(/\s+/g, '').replace(/^\[|\]$/g, '');
  const terms = [...items.matchAll(/\{ok,([^{}]+?)\}|undefined/g)].map((m) => m[1]);
  if (terms.length !== count) throw new Error(`cannot parse application:get_env output: ${printed}`);
  return terms;
}
