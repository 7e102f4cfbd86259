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
  /**
   * Like `stall()`, but a close by either side is held back too, as on a link that went dark: the
   * other side learns nothing (and must notice by heartbeats or timeouts). `restore()` then closes
   * the connections one side gave up on, and resumes the rest.
   */
  blackhole(): void;
  /**
   * Open connections go dark for good (no bytes, closes held back), as when a failover or a NAT drops
   * their state; new connections are forwarded as normal. Only `cut()` or `close()` ends the dark ones.
   */
  strand(): void;
  /** Back to forwarding; stalled connections resume where they stopped. */
  restore(): void;
  close(): Promise<void>;
}

type Mode = 'forward' | 'refuse' | 'stall';

interface Pair {
  client: Socket;
  server: Socket;
  /** One side closed while closes were held back. */
  broken?: boolean;
  /** Dark for good (`strand()`): `restore()` leaves it alone. */
  stranded?: boolean;
}

export async function startTcpProxy(
  target: { host: string; port: number },
  listenPort = 0,
): Promise<TcpProxy> {
  let mode: Mode = 'forward';
  let holdCloses = false;
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

  const stall = () => {
    if (mode === 'stall') return;
    mode = 'stall';
    for (const pair of pairs) setFlowing(pair, false);
  };

  const server: Server = createServer((client) => {
    if (mode === 'refuse') {
      client.destroy();
      return;
    }
    const upstream = createConnection(target);
    const pair: Pair = { client, server: upstream };
    pairs.add(pair);
    const lost = () => {
      if (holdCloses || pair.stranded) pair.broken = true;
      else destroy(pair);
    };
    for (const socket of [client, upstream]) {
      socket.on('error', lost);
      socket.on('close', lost);
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
    stall,
    blackhole() {
      holdCloses = true;
      stall();
    },
    strand() {
      for (const pair of pairs) {
        pair.stranded = true;
        setFlowing(pair, false);
      }
      mode = 'forward';
      holdCloses = false;
    },
    restore() {
      const wasStalled = mode === 'stall';
      mode = 'forward';
      holdCloses = false;
      for (const pair of [...pairs]) if (pair.broken && !pair.stranded) destroy(pair);
      if (wasStalled) for (const pair of pairs) if (!pair.stranded) setFlowing(pair, true);
    },
    async close() {
      for (const pair of [...pairs]) destroy(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
