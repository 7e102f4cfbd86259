import { spawn, type ChildProcess } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { styleText } from 'node:util';
import { DUPLICATE_SIGNAL_WINDOW_MS } from '@tickwork/core';
import { buildUi } from './build-ui.js';

/**
 * `npm run dev`: the whole stack from its TypeScript sources, for development. Migrates the database,
 * builds the dashboard, then runs api, scheduler and worker, each as `node --import tsx --watch
 * apps/<service>/src/main.ts`: Node restarts a service when a file it loaded changes (its own sources or
 * packages/core). A service that crashes waits for the next change. The dashboard is rebuilt when a
 * file in apps/api/ui changes (the API reads dist/ui on each request). Every line is prefixed with its
 * service; on a terminal the services log readable lines (LOG_FORMAT=pretty unless LOG_FORMAT says
 * otherwise). Ctrl-C stops all (a second Ctrl-C kills them).
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const SERVICES = ['api', 'scheduler', 'worker'] as const;
type Name = (typeof SERVICES)[number] | 'migrate' | 'ui';

const tty = process.stdout.isTTY === true;
const env: NodeJS.ProcessEnv = { ...process.env };
// The services' stdout is a pipe to us, not the terminal: pass on what `auto` would have chosen.
if (tty && ['', 'auto'].includes(env.LOG_FORMAT?.trim() ?? '') && env.NODE_ENV !== 'production') {
  env.LOG_FORMAT = 'pretty';
}
if (tty && env.NO_COLOR === undefined) env.FORCE_COLOR ??= '1';

const COLORS = { api: 'cyan', scheduler: 'magenta', worker: 'green', migrate: 'yellow', ui: 'blue' } as const;
const width = Math.max(...Object.keys(COLORS).map((name) => name.length));
const label = (name: Name) => {
  const text = name.padEnd(width);
  return tty ? styleText(COLORS[name], text) : text;
};

function prefixLines(name: Name, from: Readable | null, to: Writable): void {
  if (!from) return;
  createInterface({ input: from, crlfDelay: Infinity }).on('line', (line) =>
    to.write(`${label(name)} │ ${line}\n`),
  );
}

const say = (name: Name, message: string) => process.stdout.write(`${label(name)} │ ${message}\n`);

function run(name: Name, args: string[]): ChildProcess {
  // Own process group: the terminal's Ctrl-C reaches only us, and we forward exactly one signal.
  const child = spawn(process.execPath, args, {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  }).on('error', (error) => say(name, `cannot start: ${error.message}`));
  prefixLines(name, child.stdout, process.stdout);
  prefixLines(name, child.stderr, process.stderr);
  return child;
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (!running(child)) return resolve(child.exitCode ?? 1);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

let stopping = false;
let firstSignalAt = 0;
let children: ChildProcess[] = [];
/** What else runs until the first signal (the dashboard's watcher). */
const watchers: FSWatcher[] = [];
const killAll = () => {
  for (const child of children) {
    // The whole group: `node --watch` and the service it runs.
    if (running(child) && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
};
// Ctrl-C or SIGTERM: one SIGTERM to each `node --watch`, which passes it on and waits for the service.
const onSignal = () => {
  if (stopping) {
    // npm forwards the terminal's Ctrl-C, so the same keypress can arrive twice.
    if (Date.now() - firstSignalAt >= DUPLICATE_SIGNAL_WINDOW_MS) killAll();
    return;
  }
  firstSignalAt = Date.now();
  stopping = true;
  for (const watcher of watchers) watcher.close();
  for (const child of children) if (running(child)) child.kill('SIGTERM');
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('exit', killAll);

const migration = run('migrate', ['--import', 'tsx', 'scripts/migrate.ts']);
children = [migration];
const migrateCode = await exited(migration);
if (migrateCode !== 0 || stopping) process.exit(stopping ? 0 : migrateCode);

/** Builds dist/ui; a failed build is reported (esbuild prints the error) and the last one stays. */
async function rebuildUi(): Promise<void> {
  const started = performance.now();
  try {
    await buildUi();
    say('ui', `built dist/ui in ${Math.round(performance.now() - started)} ms`);
  } catch (error) {
    if (!(error instanceof Error && 'errors' in error)) say('ui', `build failed: ${String(error)}`);
  }
}
await rebuildUi();
if (stopping) process.exit(0);
let uiTimer: NodeJS.Timeout | undefined;
watchers.push(
  watch(join(root, 'apps/api/ui'), { recursive: true }, () => {
    clearTimeout(uiTimer);
    uiTimer = setTimeout(() => void rebuildUi(), 100);
  }),
);

const services = SERVICES.map((name) => ({
  name,
  child: run(name, ['--import', 'tsx', '--watch', '--watch-preserve-output', `apps/${name}/src/main.ts`]),
}));
children = services.map(({ child }) => child);
// `node --watch` itself exits only when stopped (a crashed service waits for a change instead).
const codes = await Promise.all(
  services.map(async ({ name, child }) => {
    const code = await exited(child);
    if (!stopping) {
      say(name, `exited with code ${code}; stopping the others`);
      onSignal();
    }
    return code;
  }),
);
process.exit(codes.every((c) => c === 0) ? 0 : 1);
