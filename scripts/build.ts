import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { bundleInputs, writeManifest } from './build-inputs.mjs';
import { buildUi } from './build-ui.js';

/**
 * `npm run build`: bundles each service (and the migrator) into one ES module in dist/, so production
 * runs plain JavaScript (`node --enable-source-maps dist/worker.js`) without tsx's loader in every
 * process. Our own workspace packages (@tickwork/*) are bundled; every third-party dependency stays
 * external and is loaded from node_modules, so the packages' own files (swagger-ui's static assets,
 * native or CommonJS internals) are found where they always are.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist');

export const ENTRY_POINTS = {
  api: 'apps/api/src/main.ts',
  scheduler: 'apps/scheduler/src/main.ts',
  worker: 'apps/worker/src/main.ts',
  migrate: 'scripts/migrate.ts',
  // Not a service: scripts/service.mjs checks the environment with it before a service's bundle loads.
  config: 'packages/core/src/config.ts',
} as const;

interface Manifest {
  name?: string;
  workspaces?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** The workspace folders named by the root package.json (`dir` or `dir/*` patterns). */
function workspaceDirs(): string[] {
  return (readManifest(root).workspaces ?? []).flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [join(root, pattern)];
    const parent = join(root, pattern.slice(0, -2));
    return readdirSync(parent, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(parent, entry.name));
  });
}

/** Third-party runtime dependencies of every workspace package: these stay external. */
function thirdPartyDependencies(): Set<string> {
  const names = new Set<string>();
  for (const dir of workspaceDirs()) {
    if (!existsSync(join(dir, 'package.json'))) continue;
    const manifest = readManifest(dir);
    for (const deps of [manifest.dependencies, manifest.optionalDependencies, manifest.peerDependencies])
      for (const name of Object.keys(deps ?? {})) if (!name.startsWith('@tickwork/')) names.add(name);
  }
  return names;
}

/** `pino/file` → `pino`, `@fastify/swagger/x` → `@fastify/swagger`. */
const packageName = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

/** The folder of package `name` that Node finds from `dir` (the nearest node_modules/<name>). */
function packageDir(name: string, dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    const candidate = join(at, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(at) === at) return undefined;
  }
}

const SKIP = Symbol('resolve without this plugin');

/**
 * Bare imports: node builtins and declared dependencies are external, @tickwork/* is bundled, and
 * anything else fails the build: an undeclared (or dev-only) package would be missing in production.
 *
 * An external import must load the same package from dist/ as from the source file. When npm nested
 * a workspace's version under it (apps/api/node_modules/ajv: ajv 8, while the root has eslint's ajv
 * 6), the bundle imports that package's file by its relative path instead of by name.
 */
function dependencies(external: Set<string>): Plugin {
  const builtins = new Set(builtinModules);
  return {
    name: 'tickwork-dependencies',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === SKIP) return undefined;
        if (args.path.startsWith('node:') || builtins.has(args.path)) return { external: true };
        const name = packageName(args.path);
        if (name.startsWith('@tickwork/')) return undefined;
        if (!external.has(name)) {
          return {
            errors: [
              {
                text: `${args.path} (imported by ${relative(root, args.importer)}) is not a dependency of any workspace package`,
              },
            ],
          };
        }
        // sideEffects false: an import whose bindings tree-shaking removed is dropped too, so a
        // service does not load (and hold in memory) packages only other services use.
        if (packageDir(name, args.resolveDir) === packageDir(name, outdir))
          return { external: true, sideEffects: false };
        const resolved = await b.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: SKIP,
        });
        if (resolved.errors.length) return { errors: resolved.errors };
        const path = relative(outdir, resolved.path).split(sep).join('/');
        return { path: path.startsWith('../') ? path : `./${path}`, external: true, sideEffects: false };
      });
    },
  };
}

/**
 * Our own code keeps meaning "this source file" by `import.meta.url`: in the bundle it becomes the URL
 * of the .ts file it came from (relative to the bundle, so the tree can move as a whole). Paths resolved
 * against it, such as packages/core's migrations/ folder, work the same from src/ and from dist/.
 */
function sourceImportMetaUrl(): Plugin {
  return {
    name: 'tickwork-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (args.path.split(sep).includes('node_modules')) return undefined;
        const source = await readFile(args.path, 'utf8');
        if (!source.includes('import.meta.url')) return undefined;
        const fromBundle = relative(outdir, args.path).split(sep).join('/');
        return {
          contents: source.replaceAll(
            'import.meta.url',
            `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`,
          ),
          loader: 'ts',
          resolveDir: dirname(args.path),
        };
      });
    },
  };
}

/** Bundles every service into dist/ and records what each bundle was built from (build-inputs.mjs). */
export async function buildServices(): Promise<void> {
  const builtFrom = Date.now();
  const { outputFiles, metafile } = await build({
    absWorkingDir: root,
    entryPoints: Object.entries(ENTRY_POINTS).map(([out, entry]) => ({ in: entry, out })),
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Workspace packages from their sources, as in the tests (packages/client/package.json).
    conditions: ['tickwork-source'],
    // Linked maps: with --enable-source-maps, stack traces point at the .ts files.
    sourcemap: 'linked',
    // Error classes set `this.name = new.target.name`, and run errors store that name.
    keepNames: true,
    // The entries share most of packages/core, but one self-contained file per service is simpler.
    splitting: false,
    logLevel: 'warning',
    plugins: [dependencies(thirdPartyDependencies()), sourceImportMetaUrl()],
    write: false,
    metafile: true,
  });
  // Each file is replaced by a rename: a service starting while another build runs (two
  // `npm run start:*` at once) reads the old bundle or the new one, never half of one.
  mkdirSync(outdir, { recursive: true });
  for (const file of outputFiles) {
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
  }
  writeManifest('services', bundleInputs(metafile), builtFrom);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  // `scripts/build.ts [services] [ui]`: both by default; scripts/service.mjs asks for what is stale.
  const wanted = process.argv.slice(2);
  const unknown = wanted.find((what) => what !== 'services' && what !== 'ui');
  if (unknown) {
    console.error(`build: unknown part "${unknown}" (usage: scripts/build.ts [services] [ui])`);
    process.exit(2);
  }
  const services = !wanted.length || wanted.includes('services');
  const ui = !wanted.length || wanted.includes('ui');
  try {
    await Promise.all([services && buildServices(), ui && buildUi()]);
    const built = [
      ...(services ? Object.keys(ENTRY_POINTS).map((name) => `dist/${name}.js`) : []),
      ...(ui ? ['dist/ui'] : []),
    ];
    console.log(`built ${built.join(', ')} in ${Math.round(performance.now() - started)} ms`);
  } catch (error) {
    // esbuild has printed its own errors already.
    if (!(error instanceof Error && 'errors' in error)) console.error(error);
    process.exit(1);
  }
}
