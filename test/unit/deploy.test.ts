import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Histogram, type Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createClusterMetrics, metricsRegistry } from '@tickwork/core';
import { launcherArgs, serviceArgs, type Bundle } from '../../scripts/service-command.js';

/**
 * The compose `monitoring` profile cannot be started here (no Docker engine), so what can drift is
 * checked by reading: every series the Grafana dashboard queries is one our services export, with the
 * labels it filters and groups by; Prometheus scrapes the compose services on the ports they serve;
 * every file the stack mounts exists, and Grafana's provisioning points where the files are mounted.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface ComposeService {
  profiles?: string[];
  environment?: Record<string, string>;
  ports?: Array<string | { host_ip?: string; published?: string | number }>;
  volumes?: string[];
  depends_on?: string[] | Record<string, unknown>;
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = compose.services;

/** Labels Prometheus adds to every series (target labels) or that histograms carry. */
const ADDED_LABELS = new Set(['job', 'instance', 'le']);

/** Every series name our registries expose, with its labels (histograms as _bucket, _sum, _count). */
function exportedSeries(): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  const registries: Registry[] = [metricsRegistry, createClusterMetrics().registry];
  for (const metric of registries.flatMap((registry) => registry.getMetricsAsArray())) {
    const { name, labelNames } = metric as unknown as { name: string; labelNames: string[] };
    const names = metric instanceof Histogram ? ['_bucket', '_sum', '_count'].map((s) => name + s) : [name];
    for (const each of names) series.set(each, new Set(labelNames));
  }
  return series;
}

interface Panel {
  title?: string;
  datasource?: { uid?: string } | null;
  targets?: Array<{ expr?: string; datasource?: { uid?: string } }>;
  panels?: Panel[];
}
const dashboard = JSON.parse(read('deploy/grafana/tickwork.json')) as {
  panels: Panel[];
  templating: { list: Array<{ name: string; query: { query: string }; datasource?: { uid?: string } }> };
};
const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
const queries = [
  ...panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ where: panel.title ?? '?', expr: target.expr ?? '' })),
  ),
  ...dashboard.templating.list.map((variable) => ({
    where: `variable $${variable.name}`,
    expr: variable.query.query,
  })),
];

describe('Grafana dashboard', () => {
  const series = exportedSeries();

  it('queries only series the services export', () => {
    expect(queries.length).toBeGreaterThan(20);
    for (const { where, expr } of queries) {
      const names = expr.match(/\btickwork_\w+/g) ?? [];
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) expect(series.has(name), `${where}: ${name} is not exported`).toBe(true);
    }
  });

  it('filters and groups by labels those series have', () => {
    for (const { where, expr } of queries) {
      const labels = new Set([
        ...[...expr.matchAll(/\{([^}]*)\}/g)].flatMap(([, matchers]) =>
          [...(matchers ?? '').matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1] ?? ''),
        ),
        ...[...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap(([, list]) =>
          (list ?? '').split(',').map((label) => label.trim()),
        ),
        ...[...expr.matchAll(/label_values\(\w+,\s*(\w+)\)/g)].map((m) => m[1] ?? ''),
      ]);
      for (const name of expr.match(/\btickwork_\w+/g) ?? [])
        for (const label of labels)
          if (!ADDED_LABELS.has(label))
            expect(series.get(name)?.has(label), `${where}: ${name} has no label "${label}"`).toBe(true);
    }
  });

  it('uses the datasource Grafana is provisioned with', () => {
    const provisioned = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: Array<{ uid: string; url: string }>;
    };
    const uids = new Set(provisioned.datasources.map((d) => d.uid));
    const used = [
      ...panels.flatMap((panel) => [panel.datasource, ...(panel.targets ?? []).map((t) => t.datasource)]),
      ...dashboard.templating.list.map((variable) => variable.datasource),
    ].flatMap((datasource) => (datasource?.uid ? [datasource.uid] : []));
    expect(used.length).toBeGreaterThan(0);
    for (const uid of used) expect(uids.has(uid), uid).toBe(true);
    // Prometheus' compose service, on its default port.
    expect(provisioned.datasources.map((d) => d.url)).toEqual(['http://prometheus:9090']);
  });
});

describe('compose monitoring profile', () => {
  it('starts Prometheus and Grafana only with --profile monitoring', () => {
    expect(services.prometheus?.profiles).toEqual(['monitoring']);
    expect(services.grafana?.profiles).toEqual(['monitoring']);
    for (const [name, service] of Object.entries(services))
      if (!['prometheus', 'grafana'].includes(name)) expect(service.profiles, name).toBeUndefined();
  });

  it('scrapes the api, the scheduler and every worker on the ports they serve metrics on', () => {
    const config = parse(read('deploy/prometheus.yml')) as {
      scrape_configs: Array<{
        job_name: string;
        metrics_path?: string;
        static_configs?: Array<{ targets: string[] }>;
        dns_sd_configs?: Array<{ names: string[]; port: number }>;
      }>;
    };
    const targets = config.scrape_configs.flatMap((job) => [
      ...(job.static_configs ?? []).flatMap((c) => c.targets),
      ...(job.dns_sd_configs ?? []).flatMap((c) => c.names.map((name) => `${name}:${c.port}`)),
    ]);
    const port = (service: string, variable: string) => services[service]?.environment?.[variable];
    expect(targets.sort()).toEqual(
      [
        `api:${port('api', 'PORT')}`,
        `scheduler:${port('scheduler', 'METRICS_PORT')}`,
        `worker:${port('worker', 'METRICS_PORT')}`,
      ].sort(),
    );
    // Metrics off the loopback interface, or Prometheus in its own container could not reach them.
    for (const service of ['api', 'scheduler', 'worker'])
      expect(services[service]?.environment?.HOST, service).toBe('0.0.0.0');
  });

  it('scrapes with METRICS_TOKEN, from the variable the services read it from', () => {
    const prometheus = parse(read('deploy/prometheus.yml')) as {
      scrape_configs: Array<{
        job_name: string;
        authorization?: { type?: string; credentials_file?: string };
      }>;
    };
    const top = parse(read('docker-compose.yml')) as {
      configs?: Record<string, { content?: string }>;
      services: Record<string, { configs?: Array<{ source: string; target: string }> }>;
    };
    const mounted = top.services.prometheus?.configs?.find((c) => c.source === 'metrics-token');
    expect(mounted?.target).toMatch(/^\//);
    expect(top.configs?.['metrics-token']?.content).toMatch(/^\$\{METRICS_TOKEN\b/);
    for (const job of prometheus.scrape_configs) {
      expect(job.authorization?.type ?? 'Bearer', job.job_name).toBe('Bearer');
      expect(job.authorization?.credentials_file, job.job_name).toBe(mounted?.target);
    }
    for (const service of ['api', 'scheduler', 'worker'])
      expect(services[service]?.environment?.METRICS_TOKEN, service).toMatch(/^\$\{METRICS_TOKEN\b/);
  });

  it('runs without the diag tasks unless ENABLE_DIAG_TASKS is set (NODE_ENV=production)', () => {
    for (const service of ['api', 'scheduler', 'worker']) {
      expect(services[service]?.environment?.NODE_ENV, service).toMatch(/production/);
      expect(services[service]?.environment?.ENABLE_DIAG_TASKS, service).toBe('${ENABLE_DIAG_TASKS:-false}');
    }
  });

  it('mounts files that exist, and Grafana loads the dashboard from where it is mounted', () => {
    const mounts = ['prometheus', 'grafana'].flatMap((name) =>
      (services[name]?.volumes ?? [])
        .filter((volume) => volume.startsWith('./'))
        .map((volume) => {
          const [source = '', target = ''] = volume.split(':');
          return { source, target };
        }),
    );
    expect(mounts.length).toBeGreaterThanOrEqual(3);
    for (const { source } of mounts) expect(existsSync(join(root, source)), source).toBe(true);

    const provider = parse(read('deploy/grafana/provisioning/dashboards/tickwork.yml')) as {
      providers: Array<{ options: { path: string } }>;
    };
    const dashboardMount = mounts.find(({ source }) => source === './deploy/grafana/tickwork.json');
    expect(dashboardMount).toBeDefined();
    expect(provider.providers.map((p) => p.options.path)).toEqual([
      posix.dirname(dashboardMount?.target ?? ''),
    ]);
    const provisioning = mounts.find(({ source }) => source === './deploy/grafana/provisioning');
    expect(provisioning?.target).toBe('/etc/grafana/provisioning');
    expect(existsSync(join(root, dirname('deploy/grafana/provisioning/datasources/prometheus.yml')))).toBe(
      true,
    );
  });
});

describe('service commands', () => {
  const bundles: Bundle[] = ['api', 'scheduler', 'worker', 'migrate'];
  const expected = (bundle: Bundle) => ['node', ...serviceArgs(bundle)];

  it('are the same in docker-compose.yml, the Dockerfile and package.json', () => {
    const commands = compose.services as Record<string, { command?: string[] }>;
    for (const bundle of bundles) expect(commands[bundle]?.command, bundle).toEqual(expected(bundle));

    const cmd = /^CMD (\[.*\])$/m.exec(read('Dockerfile'))?.[1];
    expect(JSON.parse(cmd ?? '[]')).toEqual(expected('api'));

    // npm scripts go through the launcher, which builds what is stale and imports the bundle in-process.
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    for (const bundle of bundles) {
      const script = scripts[bundle === 'migrate' ? 'migrate' : `start:${bundle}`];
      expect(script, bundle).toBe(`exec ${['node', ...launcherArgs(bundle)].join(' ')}`);
    }
  });
});

/** A compose value as `docker compose up` sees it with no variable set: `${X:-default}` → default. */
const withDefaults = (value: string) =>
  value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback?: string) => fallback ?? '');

describe('compose network exposure', () => {
  it('publishes every port on the loopback interface only', () => {
    const published = Object.entries(services).flatMap(([name, service]) =>
      (service.ports ?? []).map((port) => ({ name, port })),
    );
    expect(published.map((p) => p.name).sort()).toEqual([
      'api',
      'grafana',
      'prometheus',
      'rabbitmq',
      'rabbitmq',
    ]);
    for (const { name, port } of published) {
      const hostIp =
        typeof port === 'string' ? port.split(':').length === 3 && port.split(':')[0] : port.host_ip;
      expect(hostIp, `${name}: ${JSON.stringify(port)}`).toBe('127.0.0.1');
    }
  });

  it("gives RabbitMQ a user other than guest, and the services that user's credentials", () => {
    const broker = services.rabbitmq?.environment ?? {};
    const user = withDefaults(broker.RABBITMQ_DEFAULT_USER ?? '');
    const password = withDefaults(broker.RABBITMQ_DEFAULT_PASS ?? '');
    expect(user).not.toBe('');
    expect(user).not.toBe('guest');
    expect(password).not.toBe('guest');
    expect(password.length).toBeGreaterThanOrEqual(12);
    for (const name of ['migrate', 'api', 'scheduler', 'worker']) {
      const environment = services[name]?.environment ?? {};
      for (const variable of ['AMQP_URL', 'RABBITMQ_MANAGEMENT_URL']) {
        const url = new URL(withDefaults(environment[variable] ?? ''));
        expect([url.username, url.password], `${name} ${variable}`).toEqual([user, password]);
        expect(url.hostname, `${name} ${variable}`).toBe('rabbitmq');
      }
    }
    expect(read('docker-compose.yml')).not.toMatch(/guest:guest/);
  });
});
