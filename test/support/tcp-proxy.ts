import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy between services and PostgreSQL or RabbitMQ that a test can break on purpose: cut every
 * connection, refuse new ones, or stall traffic (a partition that hangs rather than fails). It
 * disturbs nothing else on the machine, so fault tests run beside the rest of the suite.
 */
export interface TcpProxy {
  /** The port it listens on (127.0.0.1). */
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string;
  /** Open client connections. */
  readonly connections: number;
  /** Destroys every open connection, both sides (as if the server restarted). */
  cut(): void;
  /** New connections are closed at once until `restore()`; open ones are cut too. */
  refuse(): void;
  /** Open and new connections stop moving bytes until `restore()`. */
  stall(): void;
  /** Back to forwarding; stalled connections resume where they stopped. */
  restore(): void;
  close(): Promise<void>;
}

type Mode = 'forward' | 'refuse' | 'stall';

interface Pair {
  client: Socket;
  server: Socket;
}

export async function startTcpProxy(
  target: { host: string; port: number },
  listenPort = 0,
): Promise<TcpProxy> {
  let mode: Mode = 'forward';
  const pairs = new Set<Pair>();

  const destroy = (pair: Pair) => {
    pair.client.destroy();
    pair.server.destroy();
    pairs.delete(pair);
  };
  // Unpiped and paused, bytes wait in the kernel's buffers, as on a link that stopped delivering.
  const setFlowing = (pair: Pair, flowing: boolean) => {
    if (flowing) {
      pair.client.pipe(pair.server);
      pair.server.pipe(pair.client);
      return;
    }
    pair.client.unpipe(pair.server);
    pair.server.unpipe(pair.client);
    pair.client.pause();
    pair.server.pause();
  };

  const server: Server = createServer((client) => {
    if (mode === 'refuse') {
      client.destroy();
      return;
    }
    const upstream = createConnection(target);
    const pair: Pair = { client, server: upstream };
    pairs.add(pair);
    for (const socket of [client, upstream]) {
      socket.on('error', () => destroy(pair));
      socket.on('close', () => destroy(pair));
    }
    setFlowing(pair, mode === 'forward');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    port,
    via(url: string) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    get connections() {
      return pairs.size;
    },
    cut() {
      for (const pair of [...pairs]) destroy(pair);
    },
    refuse() {
      mode = 'refuse';
      for (const pair of [...pairs]) destroy(pair);
    },
    stall() {
      if (mode === 'stall') return;
      mode = 'stall';
      for (const pair of pairs) setFlowing(pair, false);
    },
    restore() {
      const wasStalled = mode === 'stall';
      mode = 'forward';
      if (wasStalled) for (const pair of pairs) setFlowing(pair, true);
    },
    async close() {
      for (const pair of [...pairs]) destroy(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
