import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Where `npm run build` (scripts/build-ui.ts) writes the dashboard: dist/ui/ at the repository root.
 * Resolved from this source file, which the service bundle keeps as its `import.meta.url`, so the
 * same path works from src/ (tsx, tests) and from dist/api.js.
 */
export const UI_DIR = fileURLToPath(new URL('../../../dist/ui/', import.meta.url));

const gzip = promisify(gzipCallback);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Scripts and styles from /ui only; data from /api/v1 (same origin); nothing inline, nothing framed. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * The web dashboard at /ui: static files (a single-page app that holds no data). The data it shows
 * comes from /api/v1 with the bearer token the user signs in with, so the files themselves are public.
 */
export function registerUi(app: FastifyInstance, dir: string = UI_DIR): void {
  const send = async (file: string, request: FastifyRequest, reply: FastifyReply) => {
    const type = TYPES[extname(file)];
    if (!type || !/^[\w.-]+$/.test(file) || file.startsWith('.')) return reply.code(404).send();
    let body: Buffer;
    try {
      body = await readFile(join(dir, file));
    } catch {
      if (file !== 'index.html') return reply.code(404).send();
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The dashboard is not built: run `npm run build`.\n');
    }
    if (body.length > 1024 && /\bgzip\b/.test(request.headers['accept-encoding'] ?? '')) {
      body = await gzip(body);
      reply.header('content-encoding', 'gzip');
    }
    return reply
      .type(type)
      .header('vary', 'accept-encoding')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(body);
  };

  const hide = { schema: { hide: true } };
  app.get('/ui', hide, (_request, reply) => reply.redirect('/ui/'));
  app.get('/ui/', hide, (request, reply) => send('index.html', request, reply));
  app.get<{ Params: { file: string } }>('/ui/:file', hide, (request, reply) =>
    send(request.params.file, request, reply),
  );
}
