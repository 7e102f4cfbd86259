import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GiveUp, waitFor } from './wait.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * How long a service process may take to start (to connect, register, listen). It runs from its
 * TypeScript sources (`node --import tsx`): a cold start compiles the whole service, and on two cores
 * shared by four test files and other work, three services starting at once took 90 s at load 15, and
 * over two minutes at load 25. A process that exits instead fails the wait at once (waitForOutput).
 */
export const SERVICE_START_MS = 180_000;

/** A service (or script) running as a real child process, as `npm run start:*` would run it. */
export interface ServiceProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Waits until the output matches; fails at once if the process ended (its output all read) without it. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /**
   * Resolves with the exit code (or the signal) once the process exited and its output is all read:
   * on 'close', not on 'exit', after which stdout and stderr may still deliver their last lines.
   */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

export function spawnScript(script: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // 'close' comes after 'exit' once stdout and stderr are drained: only then is the output complete.
  let closed = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      closed = true;
      resolve({ code, signal });
    }),
  );
  return {
    child,
    output: () => output,
    waitForOutput: (pattern, timeoutMs = SERVICE_START_MS) =>
      waitFor(
        () => {
          if (pattern.test(output)) return true;
          if (closed) throw new GiveUp(`exited without output matching ${pattern}:\n${output}`);
          return false;
        },
        { timeoutMs, what: `output matching ${pattern}` },
      ).then(() => undefined),
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

export const spawnService = (service: 'api' | 'scheduler' | 'worker', env: Record<string, string>) =>
  spawnScript(`apps/${service}/src/main.ts`, env);
