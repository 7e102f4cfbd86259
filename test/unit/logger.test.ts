import { describe, expect, it } from 'vitest';
import { createLogger, type LogFormat } from '@tickwork/core';

/** createLogger's formats (LOG_FORMAT): JSON lines for collectors, readable lines for a terminal. */

const SECRET = 'Pretty-S3cret-Token-Value';

function capture(format?: LogFormat) {
  const lines: string[] = [];
  const logger = createLogger(
    { level: 'debug', service: 'api', ...(format ? { format } : {}) },
    { write: (line: string) => void lines.push(line) },
  );
  return { logger, text: () => lines.join('') };
}

function logSecrets(logger: ReturnType<typeof capture>['logger']): void {
  logger.info(
    {
      req: { method: 'GET', url: '/api/v1/runs', headers: { authorization: `Bearer ${SECRET}` } },
      config: { apiTokens: [{ name: 'ops', role: 'admin', secret: SECRET }], metricsToken: SECRET },
      password: SECRET,
      user: { password: SECRET },
    },
    'request with secrets',
  );
}

describe('createLogger', () => {
  it('writes JSON lines without a format, with json, and with auto when not writing to a terminal', () => {
    for (const format of [undefined, 'json', 'auto'] as const) {
      const { logger, text } = capture(format);
      logger.info({ n: 1 }, 'hello');
      expect(JSON.parse(text()), String(format)).toMatchObject({
        level: 30,
        service: 'api',
        n: 1,
        msg: 'hello',
      });
    }
  });

  it('writes readable lines with pretty: time, level, service and message, then the fields', () => {
    const { logger, text } = capture('pretty');
    logger.info({ n: 1 }, 'hello');
    logger.warn('careful');
    const [first, second] = text().trimEnd().split('\n');
    expect(first).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: api: hello \{"n":1\}$/);
    expect(second).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: api: careful$/);
  });

  it('prints an error with its stack in pretty lines', () => {
    const { logger, text } = capture('pretty');
    logger.error(new Error('it broke'), 'failed');
    expect(text()).toContain('ERROR: api: failed');
    expect(text()).toContain('it broke');
    expect(text()).toMatch(/at .*logger\.test\.ts/);
  });

  it.each(['json', 'pretty'] as const)('redacts credentials in %s lines', (format) => {
    const { logger, text } = capture(format);
    logSecrets(logger);
    expect(text()).toContain('request with secrets');
    expect(text()).toContain('[redacted]');
    expect(text()).not.toContain(SECRET);
  });
});
