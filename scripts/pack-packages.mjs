// @ts-check
/* global console, process, URL */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Packs the engine's published packages as users install them:
 *
 *   node scripts/pack-packages.mjs <out-dir> [core] [worker]
 *
 * Inside the repository @tickwork/core and @tickwork/worker export their TypeScript sources, so every
 * service, script and test runs them as they are, with no build and no export condition to pass. A
 * package a user installs must be JavaScript: this builds each one with tsc (core first: the worker's
 * declarations refer to core's) and packs a copy whose manifest exports the build, leaving the
 * repository's own manifest untouched. Prints the tarballs' paths.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const [outArg, ...names] = process.argv.slice(2);
if (!outArg) {
  console.error('usage: node scripts/pack-packages.mjs <out-dir> [core] [worker]');
  process.exit(2);
}
const out = resolve(outArg);
const ORDER = ['core', 'worker'];
const wanted = names.length ? names : ORDER;
for (const name of wanted)
  if (!ORDER.includes(name)) {
    console.error(`unknown package "${name}" (known: ${ORDER.join(', ')})`);
    process.exit(2);
  }

/** `./src/x.ts` → `{ types: './dist/x.d.ts', default: './dist/x.js' }`. */
const built = (/** @type {string} */ source) => {
  const base = source.replace(/^\.\/src\//, './dist/').replace(/\.ts$/, '');
  return { types: `${base}.d.ts`, default: `${base}.js` };
};

/** @param {string} text @returns {unknown} */
const parseJson = (text) => JSON.parse(text);

/** @param {unknown} value @returns {value is { exports: Record<string, string> }} */
function hasSourceExports(value) {
  if (typeof value !== 'object' || value === null || !('exports' in value)) return false;
  const { exports } = value;
  return (
    typeof exports === 'object' &&
    exports !== null &&
    Object.values(exports).every((target) => typeof target === 'string' && target.startsWith('./src/'))
  );
}

mkdirSync(out, { recursive: true });
const staging = mkdtempSync(join(tmpdir(), 'tickwork-pack-'));
try {
  for (const name of ORDER.filter((n) => wanted.includes(n) || (n === 'core' && wanted.includes('worker')))) {
    const dir = join(root, 'packages', name);
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    rmSync(join(dir, 'dist'), { recursive: true, force: true });
    execFileSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.build.json')], { stdio: 'inherit' });
    if (!wanted.includes(name)) continue;
    const manifest = parseJson(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (!hasSourceExports(manifest))
      throw new Error(`packages/${name}/package.json: exports must map to sources`);
    const published = {
      ...manifest,
      exports: Object.fromEntries(
        Object.entries(manifest.exports).map(([key, source]) => [key, built(source)]),
      ),
      scripts: undefined,
    };
    const copy = join(staging, name);
    cpSync(join(dir, 'dist'), join(copy, 'dist'), { recursive: true });
    writeFileSync(join(copy, 'package.json'), `${JSON.stringify(published, null, 2)}\n`);
    const tarball = execFileSync('npm', ['pack', '--pack-destination', out, '--silent'], {
      cwd: copy,
      encoding: 'utf8',
      env: { ...process.env, npm_config_update_notifier: 'false' },
    }).trim();
    console.log(join(out, tarball));
  }
} finally {
  rmSync(staging, { recursive: true, force: true });
  // The builds are for the tarballs only: inside the repository everything runs from sources.
  for (const name of ORDER) rmSync(join(root, 'packages', name, 'dist'), { recursive: true, force: true });
}
