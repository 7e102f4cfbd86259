// @ts-check
/* global process, console, URL */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  checkAdvisories,
  checkDeprecations,
  checkIntegrity,
  installedPackages,
  REGISTRY,
} from './audit-checks.mjs';

/**
 * `npm run audit` (and .ci/run): fails on a high or critical advisory in the installed dependencies.
 *
 * First `npm audit`. When the registry's audit endpoint cannot answer (this CI's registry returns
 * 405), it says so and runs the fallback instead (docs/security.md, "Dependencies"): lockfile
 * integrity, the committed advisory list security/advisories.json, and deprecation notices from the
 * registry's metadata. Exit code 0 passes, 1 fails, 2 is a usage error.
 *
 *   node scripts/audit.mjs [--fallback] [--lockfile <path>] [--advisories <path>] [--registry <url>]
 *
 * --fallback    skip `npm audit`, run the fallback checks only
 * --lockfile    the package-lock.json to check (default: the repository's); `npm audit` runs beside it
 * --advisories  the advisory list (default: security/advisories.json)
 * --registry    where `npm audit` and the metadata requests go (default: npm's configured registry)
 */
const root = fileURLToPath(new URL('..', import.meta.url));

/** @type {{ values: { fallback?: boolean, lockfile?: string, advisories?: string, registry?: string } }} */
let args;
try {
  args = parseArgs({
    options: {
      fallback: { type: 'boolean' },
      lockfile: { type: 'string' },
      advisories: { type: 'string' },
      registry: { type: 'string' },
    },
  });
} catch (error) {
  console.error(`audit: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
}
const lockfilePath = resolve(args.values.lockfile ?? join(root, 'package-lock.json'));
const advisoriesPath = resolve(args.values.advisories ?? join(root, 'security/advisories.json'));
const registry = args.values.registry ?? process.env.npm_config_registry ?? REGISTRY;

/** @type {string[]} */
const failures = [];
/** @param {string} check @param {{ failures: string[], notes: string[] }} found @param {string} clean */
function report(check, found, clean) {
  for (const line of found.notes) console.log(`${check}: ${line}`);
  for (const line of found.failures) console.log(`${check}: FAIL ${line}`);
  if (!found.failures.length) console.log(`${check}: ${clean}`);
  failures.push(...found.failures.map((line) => `${check}: ${line}`));
}

/** @param {string} text @returns {unknown} */
const parseJson = (text) => JSON.parse(text);

const lockfile = /** @type {Parameters<typeof installedPackages>[0]} */ (
  parseJson(readFileSync(lockfilePath, 'utf8'))
);
const { installed, failures: linkFailures } = installedPackages(lockfile);

// Offline and cheap, so it runs whatever npm audit says: no git, http, file or foreign tarball sneaks in.
const integrity = checkIntegrity(installed);
report(
  'lockfile',
  { failures: [...linkFailures, ...integrity.failures], notes: integrity.notes },
  `${installed.length} packages, all from ${REGISTRY} with sha512 integrity`,
);

const audit = args.values.fallback ? { skipped: true } : npmAudit(dirname(lockfilePath), registry);
if ('vulnerabilities' in audit) {
  report('npm audit', audit.vulnerabilities, `no high or critical advisories (${audit.counts})`);
} else {
  console.log(
    'skipped' in audit
      ? 'npm audit: skipped (--fallback); running the fallback checks'
      : `npm audit: the registry's audit endpoint is unreachable (${audit.unreachable}); falling back to the committed advisory list and the registry's deprecation notices (docs/security.md, "Dependencies")`,
  );
  const list = /** @type {{ advisories: import('./audit-checks.mjs').Advisory[] }} */ (
    parseJson(readFileSync(advisoriesPath, 'utf8'))
  );
  report(
    'advisories',
    checkAdvisories(installed, list.advisories),
    `${list.advisories.length} known advisories checked against ${installed.length} installed versions: none high or critical`,
  );
  const deprecations = await checkDeprecations(installed, { registry });
  report(
    'deprecations',
    deprecations,
    `${deprecations.packages} packages' metadata read: no security deprecation`,
  );
}

if (failures.length) {
  console.log(`audit: FAILED (${failures.length} problem${failures.length === 1 ? '' : 's'})`);
  process.exit(1);
}
console.log('audit: passed');

/**
 * What `npm audit --json` prints: a report, or (when the endpoint fails) the error.
 *
 * @typedef {{ name: string, severity: string, range: string, via: Array<string | { title?: string, url?: string }> }} NpmVulnerability
 * @typedef {{ vulnerabilities?: Record<string, NpmVulnerability>, metadata?: { vulnerabilities?: Record<string, number> }, message?: string, error?: { summary?: string } }} NpmAuditJson
 */

/**
 * `npm audit --json --audit-level=high` beside the lockfile: its high and critical findings, or why the
 * endpoint gave no report.
 *
 * @param {string} cwd
 * @param {string} registryUrl
 * @returns {{ vulnerabilities: { failures: string[], notes: string[] }, counts: string } | { unreachable: string }}
 */
function npmAudit(cwd, registryUrl) {
  const run = spawnSync('npm', ['audit', '--json', '--audit-level=high', `--registry=${registryUrl}`], {
    cwd,
    encoding: 'utf8',
    timeout: 180_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error) return { unreachable: `npm could not run: ${run.error.message}` };
  /** @type {NpmAuditJson} */
  let parsed;
  try {
    parsed = /** @type {NpmAuditJson} */ (parseJson(run.stdout));
  } catch {
    const said =
      run.stderr.split('\n').find((line) => line.startsWith('npm error')) ?? `exit code ${run.status}`;
    return { unreachable: said };
  }
  if (!parsed.vulnerabilities) {
    return { unreachable: parsed.message || parsed.error?.summary || `npm audit exited with ${run.status}` };
  }
  const failing = Object.values(parsed.vulnerabilities).filter((v) =>
    ['high', 'critical'].includes(v.severity),
  );
  const counts = Object.entries(parsed.metadata?.vulnerabilities ?? {})
    .filter(([severity, count]) => severity !== 'total' && count > 0)
    .map(([severity, count]) => `${count} ${severity}`);
  return {
    vulnerabilities: {
      failures: failing.map(
        (v) =>
          `${v.severity} ${v.name} ${v.range}: ${v.via.map((via) => (typeof via === 'string' ? `via ${via}` : `${via.title ?? '?'} ${via.url ?? ''}`.trim())).join('; ')}`,
      ),
      notes: [],
    },
    counts: counts.length ? `below high: ${counts.join(', ')}` : 'none at all',
  };
}
