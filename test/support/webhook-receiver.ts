import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a receiver got, as it came. */
export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Date.now() when the body had arrived. */
  at: number;
}

/**
 * A webhook receiver for tests: an HTTP server on 127.0.0.1 that keeps every request. `mode` decides
 * the answer: 204 (ok), 503 (fail), or none at all (hang: the request is held until stop()).
 */
export class WebhookReceiver {
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  readonly received: Received[] = [];
  private server: Server | undefined;
  private held: ServerResponse[] = [];
  port = 0;

  /** Listens (again, on the same port after stop(), for an outage that ends). */
  async start(): Promise<void> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.received.push({
          path: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        });
        if (this.mode === 'hang') this.held.push(response);
        else if (this.mode === 'fail') response.writeHead(503).end('receiver overloaded');
        else response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and drops every connection, held requests too: the receiver is down. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const response of this.held.splice(0)) response.destroy();
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Requests received at `path`. */
  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }
}
