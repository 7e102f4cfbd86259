import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DUPLICATE_SIGNAL_WINDOW_MS } from '@tickwork/core';
import { serviceArgs, type Bundle } from './service-command.js';

/**
 * `npm start` (after `npm run build`): migrates, then runs api, scheduler and worker as child processes
 * in the foreground, each from its bundle in dist/ (see service-command.ts).
 * Ctrl-C (or SIGTERM) is forwarded once to each; exits 0 when all three stopped cleanly. If one dies on
 * its own, the others are stopped and the exit code is non-zero.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const services = ['api', 'scheduler', 'worker'] as const;

const missing = ['migrate', ...services].filter((name) => !existsSync(join(root, 'dist', `${name}.js`)));
if (missing.length) {
  console.error(`[start] dist/${missing[0]}.js is missing: run \`npm run build\` (\`npm start\` does)`);
  process.exit(1);
}

function run(name: Bundle): ChildProcess {
  // Own process group: the terminal's Ctrl-C reaches only us, and we forward exactly one signal.
  return spawn(process.execPath, serviceArgs(name), {
    cwd: root,
    stdio: 'inherit',
    detached: true,
    env: process.env,
  }).on('error', (error) => console.error(`[start] cannot start ${name}: ${error.message}`));
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

let stopping = false;
let firstSignalAt = 0;
let children: Array<{ name: string; child: ChildProcess }> = [];
const stopAll = (signal: NodeJS.Signals) => {
  for (const { child } of children)
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
};
// Ctrl-C or SIGTERM: forward one SIGTERM to each service; a second signal kills them.
const onSignal = () => {
  if (stopping) {
    // npm forwards the terminal's Ctrl-C, so the same keypress can arrive twice.
    if (Date.now() - firstSignalAt >= DUPLICATE_SIGNAL_WINDOW_MS) stopAll('SIGKILL');
    return;
  }
  firstSignalAt = Date.now();
  stopping = true;
  stopAll('SIGTERM');
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('exit', () => stopAll('SIGKILL'));

const migration = run('migrate');
children = [{ name: 'migrate', child: migration }];
const migrateCode = await exited(migration);
if (migrateCode !== 0 || stopping) process.exit(stopping ? 0 : migrateCode);

children = services.map((name) => ({ name, child: run(name) }));
const codes = await Promise.all(
  children.map(async ({ name, child }) => {
    const code = await exited(child);
    if (!stopping) {
      console.error(`[start] ${name} exited with code ${code}; stopping the others`);
      stopping = true;
      stopAll('SIGTERM');
    }
    return code === 0 && stopping ? 0 : code;
  }),
);
process.exit(codes.every((c) => c === 0) ? 0 : 1);
