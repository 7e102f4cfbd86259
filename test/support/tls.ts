import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';

/** PEM files of a throwaway private CA: a server certificate for localhost, a client certificate. */
export interface TestPki {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  /** The client key unencrypted (node-postgres takes no passphrase from a URL). */
  clientPlainKeyFile: string;
  /** Encrypted with `clientKeyPassphrase`. */
  clientKeyFile: string;
  clientKeyPassphrase: string;
  /** Another CA that signed nothing here: trusting it instead must fail. */
  otherCaFile: string;
  read(file: string): Buffer;
  remove(): void;
}

const openssl = (dir: string, ...args: string[]) =>
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });

function newCa(dir: string, name: string): void {
  openssl(
    dir,
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=Tickwork test ${name}`],
  );
}

function signed(dir: string, name: string, subject: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(
    dir,
    ...['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject],
  );
  openssl(
    dir,
    ...['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'],
    ...['-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`],
  );
}

/** Generates the PKI with openssl in a temporary directory (remove() deletes it). */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'tickwork-tls-'));
  newCa(dir, 'ca');
  newCa(dir, 'other-ca');
  // For the name `localhost` only: connecting to 127.0.0.1 is a name mismatch (what verify-full catches).
  signed(dir, 'server', '/CN=localhost', 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n');
  signed(dir, 'client', '/CN=tickwork-worker', 'extendedKeyUsage=clientAuth\n');
  const clientKeyPassphrase = 'client-key-passphrase';
  openssl(
    dir,
    ...['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', 'client.key', '-out', 'client.enc.key'],
    ...['-passout', `pass:${clientKeyPassphrase}`],
  );
  const at = (file: string) => join(dir, file);
  return {
    dir,
    caFile: at('ca.crt'),
    serverCertFile: at('server.crt'),
    serverKeyFile: at('server.key'),
    clientCertFile: at('client.crt'),
    clientPlainKeyFile: at('client.key'),
    clientKeyFile: at('client.enc.key'),
    clientKeyPassphrase,
    otherCaFile: at('other-ca.crt'),
    read: (file) => readFileSync(file),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsTerminator {
  port: number;
  /** Handshakes that failed (no client certificate, an unknown CA...), with the reason. */
  readonly refusals: string[];
  /** Each handshake that succeeded: the client certificate's CN, or '' without one. */
  readonly clients: string[];
  close(): Promise<void>;
}

/**
 * A TLS server in front of a plain TCP service on 127.0.0.1: it presents `pki`'s server certificate,
 * requires a client certificate signed by `pki`'s CA, and pipes the decrypted stream to `targetPort`.
 * `postgres`: PostgreSQL's handshake first (the client's SSLRequest answered with 'S'), as a server with
 * ssl=on does; otherwise TLS from the first byte, as RabbitMQ's amqps listener does.
 */
export async function startTlsTerminator(
  pki: TestPki,
  targetPort: number,
  options: { postgres?: boolean; requireClientCert?: boolean } = {},
): Promise<TlsTerminator> {
  const refusals: string[] = [];
  const clients: string[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const requireClientCert = options.requireClientCert ?? true;
  const secure = (raw: Socket) => {
    const tls = new TLSSocket(raw, {
      isServer: true,
      key: pki.read(pki.serverKeyFile),
      cert: pki.read(pki.serverCertFile),
      ca: pki.read(pki.caFile),
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
    });
    track(tls);
    tls.on('error', (error: Error) => refusals.push(error.message));
    tls.once('secure', () => {
      const subject = tls.getPeerCertificate().subject as { CN?: string } | undefined;
      clients.push(subject?.CN ?? '');
      const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
      track(upstream);
      upstream.on('close', () => tls.destroy());
      tls.on('close', () => upstream.destroy());
      tls.pipe(upstream).pipe(tls);
    });
  };
  const server: Server = createServer((raw) => {
    track(raw);
    if (!options.postgres) return secure(raw);
    // SSLRequest: length 8, code 80877103. Answer 'S', then TLS on the same socket.
    const onReadable = () => {
      const request = raw.read(8) as Buffer | null;
      if (!request) return;
      raw.off('readable', onReadable);
      if (request.readInt32BE(4) !== 80877103) return void raw.destroy();
      raw.write('S', () => secure(raw));
    };
    raw.on('readable', onReadable);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    refusals,
    clients,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
