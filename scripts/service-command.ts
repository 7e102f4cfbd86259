/**
 * How a service runs in production: its bundle from `npm run build`, with source maps for stack traces
 * and a small young generation (--max-semi-space-size=2, in MiB): under load V8 otherwise grows the
 * nursery to 16 MiB per semi-space, which costs the worker 30–50 MiB of RSS for a few % less GC work
 * (docs/benchmarks.md). package.json, docker-compose.yml and the Dockerfile spell the same flags out.
 */
export const NODE_FLAGS = ['--enable-source-maps', '--max-semi-space-size=2'] as const;

export type Bundle = 'api' | 'scheduler' | 'worker' | 'migrate';

export const serviceArgs = (bundle: Bundle): string[] => [...NODE_FLAGS, `dist/${bundle}.js`];
