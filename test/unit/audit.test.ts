import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/processes.js';

/**
 * scripts/audit.mjs against a fake registry, so nothing depends on npm's audit endpoint or the network:
 * the fake answers the bulk-advisory POST with 405 (as this CI's registry does) or with a report, and
 * serves abbreviated metadata for every package of the lockfile under test.
 */
interface LockEntry {
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
}
interface Lockfile {
  packages: Record<string, LockEntry>;
}

const realLockfile = () => JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lockfile;
const SHA512 = `sha512-${Buffer.alloc(64, 7).toString('base64')}`;

const registry = {
  /** What POST /-/npm/v1/security/advisories/bulk answers; undefined: 405 Method Not Allowed. */
  bulkReport: undefined as Record<string, unknown> | undefined,
  /** Deprecation messages by `name@version`. */
  deprecated: new Map<string, string>(),
  failMetadata: false,
  versions: new Map<string, Set<string>>(),
};

function serveRegistry(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'POST') {
    if (req.url?.endsWith('/advisories/bulk') && registry.bulkReport) return json(200, registry.bulkReport);
    res.writeHead(405, { allow: 'GET,HEAD' }).end();
    return;
  }
  if (registry.failMetadata) return json(503, { error: 'unavailable' });
  const name = decodeURIComponent((req.url ?? '/').slice(1));
  const versions = name === 'request' ? new Set(['2.88.2']) : registry.versions.get(name);
  if (!versions) return json(404, { error: 'Not found' });
  const entries = [...versions].map((version) => {
    const deprecated =
      name === 'request' ? 'request has been deprecated' : registry.deprecated.get(`${name}@${version}`);
    return [version, { name, version, ...(deprecated ? { deprecated } : {}) }] as const;
  });
  json(200, { name, versions: Object.fromEntries(entries) });
}

/** The fake registry knows exactly the versions of the lockfile about to be audited. */
function knowVersionsOf(lockfile: Lockfile): void {
  registry.versions.clear();
  for (const [path, entry] of Object.entries(lockfile.packages)) {
    if (!path.includes('node_modules/') || entry.link) continue;
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const known = registry.versions.get(name) ?? new Set<string>();
    registry.versions.set(name, known.add(entry.version ?? ''));
  }
}

let server: ReturnType<typeof createServer>;
let registryUrl = '';
let dir = '';

beforeAll(async () => {
  server = createServer(serveRegistry);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  registryUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  dir = mkdtempSync(join(tmpdir(), 'tickwork-audit-'));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the audit (asynchronously: the fake registry answers from this process). */
function audit(
  lockfile: Lockfile | 'real',
  ...flags: string[]
): Promise<{ code: number | null; output: string }> {
  const real = lockfile === 'real';
  knowVersionsOf(real ? realLockfile() : lockfile);
  const path = real ? join(ROOT, 'package-lock.json') : join(dir, 'package-lock.json');
  if (!real) writeFileSync(path, JSON.stringify(lockfile));
  const child = spawn(
    process.execPath,
    ['scripts/audit.mjs', `--lockfile=${path}`, `--registry=${registryUrl}`, ...flags],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

/** A copy of the repository's lockfile with `entries` added or replaced. */
function lockfileWith(entries: Record<string, LockEntry>): Lockfile {
  const lockfile = realLockfile();
  Object.assign(lockfile.packages, entries);
  return lockfile;
}

describe('dependency audit, fallback checks', () => {
  it("passes the repository's own lockfile", async () => {
    const { code, output } = await audit('real', '--fallback');
    expect(output).toMatch(
      /lockfile: \d+ packages, all from https:\/\/registry\.npmjs\.org\/ with sha512 integrity/,
    );
    expect(output).toMatch(/advisories: \d+ known advisories checked against \d+ installed versions: none/);
    expect(output).toMatch(/deprecations: \d+ packages' metadata read: no security deprecation/);
    expect(code, output).toBe(0);
  }, 60_000);

  it('fails on a known vulnerable version, nested ones included, naming it and the advisory', async () => {
    const { code, output } = await audit(
      lockfileWith({ 'node_modules/fastify/node_modules/semver': { version: '7.5.1', integrity: SHA512 } }),
      '--fallback',
    );
    expect(output).toContain(
      'advisories: FAIL high semver@7.5.1 (node_modules/fastify/node_modules/semver) GHSA-c2qf-rxjj-qqgw',
    );
    expect(code, output).toBe(1);
  }, 60_000);

  it('fails on packages from git, plain http, another host, a file link or without a checksum', async () => {
    const { code, output } = await audit(
      lockfileWith({
        'node_modules/left-pad': {
          version: '1.3.0',
          resolved: 'git+ssh://git@github.com/left-pad/left-pad.git#5b3a7f1',
        },
        'node_modules/plain-http': {
          version: '1.0.0',
          resolved: 'http://registry.npmjs.org/plain-http/-/plain-http-1.0.0.tgz',
          integrity: SHA512,
        },
        'node_modules/elsewhere': {
          version: '2.0.0',
          resolved: 'https://evil.example/elsewhere-2.0.0.tgz',
          integrity: SHA512,
        },
        'node_modules/outside': { resolved: '../outside', link: true },
        'node_modules/unchecked': { version: '1.0.0', integrity: 'sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk=' },
      }),
      '--fallback',
    );
    expect(output).toMatch(/FAIL node_modules\/left-pad \(left-pad@1\.3\.0\) is resolved from git\+ssh:/);
    expect(output).toMatch(/FAIL node_modules\/plain-http .* is resolved from http:\/\/registry/);
    expect(output).toMatch(/FAIL node_modules\/elsewhere .* is resolved from https:\/\/evil\.example/);
    expect(output).toMatch(/FAIL node_modules\/outside links to \.\.\/outside, which is not a workspace/);
    expect(output).toMatch(/FAIL node_modules\/unchecked \(unchecked@1\.0\.0\) has a weak checksum \(sha1\)/);
    expect(output).toMatch(/left-pad@1\.3\.0\) has no integrity checksum/);
    expect(code, output).toBe(1);
  }, 60_000);

  it('fails on a deprecation that cites a security problem, and only prints other deprecations', async () => {
    const yaml = `yaml@${realLockfile().packages['node_modules/yaml']?.version}`;
    registry.deprecated.set(yaml, 'please upgrade');
    try {
      const plain = await audit('real', '--fallback');
      expect(plain.output).toContain(
        `deprecations: ${yaml} (node_modules/yaml) is deprecated: please upgrade`,
      );
      expect(plain.code, plain.output).toBe(0);

      registry.deprecated.set(yaml, 'critical security vulnerability, upgrade');
      const security = await audit('real', '--fallback');
      expect(security.output).toContain(
        `deprecations: FAIL ${yaml} (node_modules/yaml) is deprecated: critical`,
      );
      expect(security.code, security.output).toBe(1);
    } finally {
      registry.deprecated.clear();
    }
  }, 60_000);

  it('fails, saying so, when the registry metadata cannot be fetched', async () => {
    registry.failMetadata = true;
    try {
      const { code, output } = await audit('real', '--fallback');
      expect(output).toMatch(
        /deprecations: FAIL registry metadata could not be fetched for \d+ of \d+ packages .*HTTP 503/,
      );
      expect(code, output).toBe(1);
    } finally {
      registry.failMetadata = false;
    }
  }, 120_000);
});

describe('dependency audit, npm audit', () => {
  it('says loudly that the audit endpoint is unreachable and falls back', async () => {
    const { code, output } = await audit('real');
    expect(output).toMatch(
      /npm audit: the registry's audit endpoint is unreachable \(405 Method Not Allowed - POST http:\/\/127\.0\.0\.1:\d+\/-\/npm\/v1\/security\/advisories\/bulk\); falling back/,
    );
    expect(output).toMatch(/advisories: \d+ known advisories checked/);
    expect(code, output).toBe(0);
  }, 120_000);

  it("fails on a high advisory in npm audit's report", async () => {
    registry.bulkReport = {
      semver: [
        {
          id: 1,
          url: 'https://github.com/advisories/GHSA-test-test-test',
          title: 'a test advisory for every semver',
          severity: 'high',
          vulnerable_versions: '<99.0.0',
          cwe: [],
          cvss: { score: 7.5, vectorString: null },
        },
      ],
    };
    try {
      const { code, output } = await audit('real');
      expect(output).toMatch(/npm audit: FAIL high semver .*a test advisory for every semver/);
      expect(output).not.toContain('falling back');
      expect(code, output).toBe(1);
    } finally {
      registry.bulkReport = undefined;
    }
  }, 120_000);
});
