/**
 * How a service runs in production: its bundle from `npm run build`, with source maps for stack traces
 * and a heap sized for many small replicas (docs/decisions.md, "Heap flags"):
 * - `--max-semi-space-size=2` (MiB): under load V8 otherwise grows the nursery to 16 MiB per
 *   semi-space, 30–50 MiB of RSS for a few % less GC work;
 * - `--heap-growing-percent=50`: the old generation may grow by half its live size before the next
 *   full GC, instead of a factor up to 4 that let a worker with ~20 MiB live hold ~75 MiB of garbage.
 * package.json (through scripts/service.mjs, which builds what is stale and runs the bundle in-process),
 * docker-compose.yml and the Dockerfile spell the same flags out (test/unit/deploy.test.ts).
 */
export const NODE_FLAGS = [
  '--enable-source-maps',
  '--max-semi-space-size=2',
  '--heap-growing-percent=50',
] as const;

export type Bundle = 'api' | 'scheduler' | 'worker' | 'migrate';

export const serviceArgs = (bundle: Bundle): string[] => [...NODE_FLAGS, `dist/${bundle}.js`];

/** `npm run start:<service>` / `npm run migrate`: the bundle, rebuilt first if stale, in the same process. */
export const launcherArgs = (bundle: Bundle): string[] => [...NODE_FLAGS, 'scripts/service.mjs', bundle];
