import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { ROOT } from './processes.js';
import { waitFor } from './wait.js';

/** An API in its own process, so its memory is its own: RSS from /proc, a full GC on request. */
export interface MeasuredApi {
  url: string;
  /** Resident set size now, and its peak so far (VmHWM), in MiB. */
  memory(): Promise<{ rssMiB: number; peakMiB: number }>;
  /** Runs a full garbage collection in the API process and waits until it is done. */
  collectGarbage(): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export async function startMeasuredApi(env: Record<string, string>): Promise<MeasuredApi> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--import', './test/support/gc-on-signal.ts', 'apps/api/src/main.ts'],
    { cwd: ROOT, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`the api exited: ${output}`);
      return (await fetch(`${url}/healthz`).catch(() => undefined))?.ok;
    },
    { timeoutMs: 90_000, what: 'the api to answer /healthz' },
  );
  let collections = 0;
  return {
    url,
    output: () => output,
    async memory() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
      return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
    },
    async collectGarbage() {
      const marker = `gc done ${++collections}`;
      child.kill('SIGUSR2');
      await waitFor(() => output.includes(marker), { timeoutMs: 30_000, what: marker });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
