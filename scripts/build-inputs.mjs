// @ts-check
/* global URL, process */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What each bundle in dist/ was built from, so scripts/service.mjs can tell a fresh bundle from a stale
 * one without building (docs/decisions.md, "A service starts from a fresh bundle without a build step").
 *
 * After a build, a manifest in dist/ lists, for every bundle, the files esbuild read for it (its
 * metafile) plus the files that steer the build (package.json files, the lockfile, tsconfig.json, the
 * build scripts), each with its size and mtime. A bundle is fresh when it exists and each of those
 * files still has the same size and mtime: an edited, replaced or deleted file makes it stale. A file
 * that is not in the list yet can only matter through one that is (an import added to it), so
 * new files need no directory scan.
 *
 * @typedef {'services' | 'ui'} BuildKind
 * @typedef {{ bundles: Record<string, string[]>, stamps: Record<string, string> }} Manifest
 */

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Each bundle's output files (relative to the repository) and the build that writes it.
 *
 * @type {Record<'api' | 'scheduler' | 'worker' | 'migrate' | 'config' | 'ui', { kind: BuildKind, outputs: string[] }>}
 */
export const BUNDLES = {
  api: { kind: 'services', outputs: ['dist/api.js'] },
  scheduler: { kind: 'services', outputs: ['dist/scheduler.js'] },
  worker: { kind: 'services', outputs: ['dist/worker.js'] },
  migrate: { kind: 'services', outputs: ['dist/migrate.js'] },
  config: { kind: 'services', outputs: ['dist/config.js'] },
  ui: { kind: 'ui', outputs: ['dist/ui/index.html', 'dist/ui/app.js', 'dist/ui/app.css'] },
};

/** The manifests live beside the bundles (not in dist/ui/, which the API serves). */
const manifestPath = (/** @type {BuildKind} */ kind) => join(root, 'dist', `.inputs-${kind}.json`);

/** Inputs esbuild's metafile does not list but that change what a build writes. */
function steeringInputs(/** @type {BuildKind} */ kind) {
  const rootManifest = /** @type {{ workspaces?: string[] }} */ (
    parseJson(readFileSync(join(root, 'package.json'), 'utf8'))
  );
  // The workspace manifests decide which imports stay external (scripts/build.ts).
  const workspaces = (rootManifest.workspaces ?? []).flatMap((pattern) =>
    pattern.endsWith('/*')
      ? readdirSync(join(root, pattern.slice(0, -2))).map((name) => `${pattern.slice(0, -1)}${name}`)
      : [pattern],
  );
  return [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    ...workspaces.map((dir) => `${dir}/package.json`),
    kind === 'services' ? 'scripts/build.ts' : 'scripts/build-ui.ts',
  ];
}

/**
 * Size and mtime of a file, or why it has none. A file changed after the build began (minus a second
 * for coarse file-system clocks) may not be what esbuild read, so it is stamped to never match.
 *
 * @param {string} path relative to the repository
 * @param {number} [builtFrom] when the build began (ms since the epoch)
 */
function stamp(path, builtFrom) {
  try {
    const stat = statSync(join(root, path));
    if (builtFrom !== undefined && stat.mtimeMs > builtFrom - 1000) return 'changed during the build';
    return `${stat.size}:${stat.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/**
 * Called by a build once its outputs are in place.
 *
 * @param {BuildKind} kind
 * @param {Record<string, string[]>} inputsByBundle the metafile's inputs of each bundle, relative paths
 * @param {number} builtFrom when the build began (ms since the epoch)
 */
export function writeManifest(kind, inputsByBundle, builtFrom) {
  const steering = steeringInputs(kind);
  /** @type {Manifest} */
  const manifest = { bundles: {}, stamps: {} };
  for (const [bundle, inputs] of Object.entries(inputsByBundle)) {
    // Skip esbuild's virtual modules ("<runtime>"), which are not files.
    const files = [...inputs.filter((path) => !path.startsWith('<')), ...steering];
    manifest.bundles[bundle] = files;
    for (const file of files) manifest.stamps[file] ??= stamp(file, builtFrom);
  }
  mkdirSync(join(root, 'dist'), { recursive: true });
  const temporary = `${manifestPath(kind)}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(manifest));
  renameSync(temporary, manifestPath(kind));
}

/**
 * The files esbuild read for each JavaScript output, by bundle name (dist/worker.js → worker).
 *
 * @param {{ outputs: Record<string, { inputs: Record<string, unknown> }> }} metafile
 * @returns {Record<string, string[]>}
 */
export function bundleInputs(metafile) {
  return Object.fromEntries(
    Object.entries(metafile.outputs)
      .filter(([output]) => output.endsWith('.js'))
      .map(([output, { inputs }]) => [basename(output, '.js'), Object.keys(inputs)]),
  );
}

/**
 * Why `bundle` must be rebuilt, or undefined when it is fresh.
 *
 * @param {keyof typeof BUNDLES} bundle
 * @returns {string | undefined}
 */
export function staleness(bundle) {
  const { kind, outputs } = BUNDLES[bundle];
  const missing = outputs.find((output) => !existsSync(join(root, output)));
  if (missing) return `${missing} is missing`;
  /** @type {Manifest} */
  let manifest;
  try {
    manifest = /** @type {Manifest} */ (parseJson(readFileSync(manifestPath(kind), 'utf8')));
  } catch {
    return `${outputs[0]} has no build manifest (dist/.inputs-${kind}.json)`;
  }
  const files = manifest.bundles[bundle];
  if (!files) return `${outputs[0]} is not in its build manifest`;
  for (const file of files) {
    const now = stamp(file);
    if (now === manifest.stamps[file]) continue;
    if (now === 'missing') return `${file} was deleted`;
    return `${file} changed`;
  }
  return undefined;
}

/** @param {string} text @returns {unknown} */
const parseJson = (text) => JSON.parse(text);
