// @ts-check
/* global console, process, URL */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { staleness } from './build-inputs.mjs';

/**
 * `npm run start:api|start:scheduler|start:worker` and `npm run migrate`:
 *
 *   node <service flags> scripts/service.mjs <api|scheduler|worker|migrate>
 *
 * Rebuilds the service bundles (and the dashboard, for the api) only when they are missing or stale
 * (scripts/build-inputs.mjs), never the client or the CLI, and checks the environment first with the
 * small dist/config.js. Then it runs the service's bundle in this same process, so the node flags of
 * this command line (scripts/service-command.ts) are the service's. It is plain JavaScript, so a
 * fresh start pays for no TypeScript loader.
 */
const SERVICES = ['api', 'scheduler', 'worker', 'migrate'];
const root = fileURLToPath(new URL('..', import.meta.url));

const name = process.argv[2] ?? '';
if (!(name === 'api' || name === 'scheduler' || name === 'worker' || name === 'migrate')) {
  console.error(`usage: node scripts/service.mjs <${SERVICES.join('|')}> (got "${name}")`);
  process.exit(2);
}

/** @param {string} bundle @returns {Promise<unknown>} */
const importBundle = (bundle) => import(pathToFileURL(join(root, 'dist', `${bundle}.js`)).href);

/**
 * Exits on a bad variable before the service's bundle loads some twenty packages (half a second on an
 * idle machine, seconds on a busy one). The service checks again with the same function and message;
 * anything but a ConfigError (and what only the service can judge, like TASK_MODULES) is left to it.
 */
async function checkConfig() {
  const config = /** @type {typeof import('../packages/core/src/config.js')} */ (
    await importBundle('config')
  );
  try {
    config.loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof config.ConfigError)) return;
    console.error(`${name}: invalid configuration: ${error.message}`);
    process.exit(1);
  }
}

// With the configuration rules unchanged, a bad variable is reported before any rebuild.
const configStale = staleness('config');
if (!configStale) await checkConfig();

/** @type {Array<{ kind: 'services' | 'ui', reason: string }>} */
const stale = [];
const services = staleness(name) ?? configStale;
if (services) stale.push({ kind: 'services', reason: services });
const ui = name === 'api' ? staleness('ui') : undefined;
if (ui) stale.push({ kind: 'ui', reason: ui });

if (stale.length) {
  // On stderr: stdout is the service's JSON log.
  console.error(
    `[${name}] rebuilding ${stale.map(({ kind, reason }) => `${kind} (${reason})`).join(' and ')}`,
  );
  const build = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'scripts/build.ts', ...stale.map(({ kind }) => kind)],
    { cwd: root, stdio: ['ignore', 2, 2] },
  );
  if (build.status !== 0) {
    console.error(`[${name}] the build failed (${build.error?.message ?? `exit code ${build.status}`})`);
    process.exit(1);
  }
}

if (configStale) await checkConfig();
await importBundle(name);
