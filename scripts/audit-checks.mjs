// @ts-check
/* global fetch, AbortSignal, URL */
import semver from 'semver';

/**
 * The fallback checks of scripts/audit.mjs (docs/security.md, "Dependencies"), each returning what it
 * found: `failures` fail the audit, `notes` are printed only.
 *
 * @typedef {{ path: string, name: string, version: string, resolved?: string, integrity?: string, inBundle?: boolean }} Installed
 * @typedef {{ id: string, package: string, vulnerable: string, severity: 'low' | 'moderate' | 'high' | 'critical', summary: string }} Advisory
 * @typedef {{ failures: string[], notes: string[] }} Findings
 */

export const REGISTRY = 'https://registry.npmjs.org/';
const FAILING_SEVERITIES = new Set(['high', 'critical']);
const SECURITY_WORDING = /vulnerab|security|CVE-|GHSA-/i;
/** Deprecated in 2020 and never to be un-deprecated: if a registry does not say so, it drops deprecations. */
const DEPRECATION_CANARY = { name: 'request', version: '2.88.2' };

/**
 * Every package npm installs from a lockfile (v2/v3), nested ones included. Workspace folders and the
 * links to them are ours, not installed; a link anywhere else is a `file:` dependency.
 *
 * @param {{ packages?: Record<string, { name?: string, version?: string, resolved?: string, integrity?: string, link?: boolean, inBundle?: boolean }> }} lockfile
 * @returns {{ installed: Installed[], failures: string[] }}
 */
export function installedPackages(lockfile) {
  const entries = Object.entries(lockfile.packages ?? {});
  const workspaces = new Set(
    entries.filter(([path]) => path && !path.includes('node_modules/')).map(([p]) => p),
  );
  /** @type {Installed[]} */
  const installed = [];
  const failures = [];
  for (const [path, entry] of entries) {
    if (!path.includes('node_modules/')) continue;
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    if (entry.link) {
      if (!workspaces.has(entry.resolved ?? ''))
        failures.push(
          `${path} links to ${entry.resolved ?? '?'}, which is not a workspace (a file: dependency)`,
        );
      continue;
    }
    installed.push({ path, name, version: entry.version ?? '', ...pick(entry) });
  }
  if (!lockfile.packages)
    failures.push('the lockfile has no "packages" map (lockfileVersion 2 or 3 is needed)');
  return { installed, failures };
}

/** @param {{ resolved?: string, integrity?: string, inBundle?: boolean }} entry */
const pick = ({ resolved, integrity, inBundle }) => ({
  ...(resolved === undefined ? {} : { resolved }),
  ...(integrity === undefined ? {} : { integrity }),
  ...(inBundle === undefined ? {} : { inBundle }),
});

/**
 * 1. Lockfile integrity: every package comes from the public registry, as its own name, with a sha512
 * checksum. npm leaves `resolved` out for registry packages under `omit-lockfile-registry-resolved`;
 * git, http, file and other tarball URLs always keep theirs, and git dependencies have no checksum.
 *
 * @param {Installed[]} installed
 * @returns {Findings}
 */
export function checkIntegrity(installed) {
  const failures = [];
  let bundled = 0;
  for (const pkg of installed) {
    // Shipped inside their parent's tarball, which the parent's checksum covers.
    if (pkg.inBundle) {
      bundled += 1;
      continue;
    }
    const at = `${pkg.path} (${pkg.name}@${pkg.version})`;
    if (!semver.valid(pkg.version)) failures.push(`${at}: "${pkg.version}" is not a registry version`);
    if (pkg.resolved !== undefined && !pkg.resolved.startsWith(`${REGISTRY}${pkg.name}/-/`))
      failures.push(`${at} is resolved from ${pkg.resolved}, not from ${REGISTRY}${pkg.name}`);
    if (!pkg.integrity?.startsWith('sha512-'))
      failures.push(
        `${at} has ${pkg.integrity ? `a weak checksum (${pkg.integrity.split('-')[0]})` : 'no integrity checksum'}`,
      );
  }
  return {
    failures,
    notes: bundled ? [`${bundled} bundled packages are covered by their parents' checksums`] : [],
  };
}

/**
 * 2. The committed advisory list against every installed version (prereleases included).
 *
 * @param {Installed[]} installed
 * @param {Advisory[]} advisories
 * @returns {Findings}
 */
export function checkAdvisories(installed, advisories) {
  /** @type {Findings} */
  const found = { failures: [], notes: [] };
  for (const advisory of advisories) {
    for (const pkg of installed) {
      if (pkg.name !== advisory.package) continue;
      if (!semver.satisfies(pkg.version, advisory.vulnerable, { includePrerelease: true })) continue;
      const line = `${advisory.severity} ${pkg.name}@${pkg.version} (${pkg.path}) ${advisory.id}: ${advisory.summary}; vulnerable ${advisory.vulnerable}, https://github.com/advisories/${advisory.id}`;
      (FAILING_SEVERITIES.has(advisory.severity) ? found.failures : found.notes).push(line);
    }
  }
  return found;
}

/**
 * 3. Deprecations, from each package's abbreviated registry metadata: a few requests at a time, each
 * with a deadline and one retry. Metadata that cannot be fetched fails the check.
 *
 * @param {Installed[]} installed
 * @param {{ registry: string, concurrency?: number, timeoutMs?: number }} options
 * @returns {Promise<Findings & { packages: number }>}
 */
export async function checkDeprecations(installed, { registry, concurrency = 8, timeoutMs = 20_000 }) {
  const names = [...new Set([...installed.map((pkg) => pkg.name), DEPRECATION_CANARY.name])].sort();
  /** @type {Map<string, Record<string, { deprecated?: string }>>} */
  const versionsByName = new Map();
  /** @type {string[]} */
  const unreachable = [];
  const queue = [...names];
  const fetchOne = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      try {
        versionsByName.set(name, await fetchVersions(registry, name, timeoutMs));
      } catch (error) {
        unreachable.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, fetchOne));

  /** @type {Findings & { packages: number }} */
  const found = { failures: [], notes: [], packages: versionsByName.size };
  if (unreachable.length) {
    found.failures.push(
      `registry metadata could not be fetched for ${unreachable.length} of ${names.length} packages from ${registry} (${unreachable.slice(0, 3).join('; ')}); deprecations are unknown`,
    );
  }
  const canary = versionsByName.get(DEPRECATION_CANARY.name)?.[DEPRECATION_CANARY.version];
  if (canary && !canary.deprecated) {
    found.notes.push(
      `WARNING: ${registry} carries no deprecation notices (its ${DEPRECATION_CANARY.name}@${DEPRECATION_CANARY.version}, deprecated since 2020, shows none): deprecated packages cannot be seen through it`,
    );
  }
  for (const pkg of installed) {
    const versions = versionsByName.get(pkg.name);
    if (!versions) continue;
    const meta = versions[pkg.version];
    if (!meta) {
      found.notes.push(
        `${pkg.name}@${pkg.version} (${pkg.path}) is not in the registry's metadata (unpublished?)`,
      );
      continue;
    }
    if (!meta.deprecated) continue;
    const line = `${pkg.name}@${pkg.version} (${pkg.path}) is deprecated: ${meta.deprecated}`;
    (SECURITY_WORDING.test(meta.deprecated) ? found.failures : found.notes).push(line);
  }
  return found;
}

/**
 * @param {string} registry
 * @param {string} name
 * @param {number} timeoutMs
 * @returns {Promise<Record<string, { deprecated?: string }>>}
 */
async function fetchVersions(registry, name, timeoutMs) {
  const url = new URL(name.replace('/', '%2f'), registry.endsWith('/') ? registry : `${registry}/`);
  let lastError;
  for (let attempt = 1; attempt <= 2; attempt += 1) {
    try {
      const response = await fetch(url, {
        headers: { accept: 'application/vnd.npm.install-v1+json' },
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = /** @type {{ versions?: Record<string, { deprecated?: string }> }} */ (
        await response.json()
      );
      if (!body.versions || typeof body.versions !== 'object')
        throw new Error('no "versions" in the metadata');
      return body.versions;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
