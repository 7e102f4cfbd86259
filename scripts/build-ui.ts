import { copyFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { bundleInputs, writeManifest } from './build-inputs.mjs';

/**
 * The dashboard (apps/api/ui: Preact + htm, plain ES modules) bundled and minified into dist/ui/, which
 * the API serves at /ui. Part of `npm run build`; the browser tests call it too. Takes well under a second.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const source = join(root, 'apps/api/ui');
export const UI_OUT_DIR = join(root, 'dist/ui');

export async function buildUi(outdir: string = UI_OUT_DIR): Promise<void> {
  const builtFrom = Date.now();
  const { outputFiles, metafile } = await build({
    absWorkingDir: root,
    entryPoints: { app: join(source, 'app.js') },
    outdir,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    write: false,
    metafile: true,
  });
  mkdirSync(outdir, { recursive: true });
  // Replaced by renames: an API serving the folder meanwhile reads the old file or the new one.
  for (const file of outputFiles) {
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
  }
  for (const name of ['index.html', 'app.css']) {
    const temporary = join(outdir, `${name}.${process.pid}.tmp`);
    copyFileSync(join(source, name), temporary);
    renameSync(temporary, join(outdir, name));
  }
  // What the API serves is recorded for scripts/service.mjs; a build elsewhere is someone else's.
  if (outdir === UI_OUT_DIR) {
    const inputs = Object.values(bundleInputs(metafile)).flat();
    writeManifest('ui', { ui: [...inputs, 'apps/api/ui/index.html', 'apps/api/ui/app.css'] }, builtFrom);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  await buildUi();
  console.log(`built dist/ui in ${Math.round(performance.now() - started)} ms`);
}
