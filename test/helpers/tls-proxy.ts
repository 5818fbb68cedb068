import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';

/**
 * A TLS front for the Temporal dev server (which speaks only plaintext gRPC): it terminates TLS with
 * ALPN `h2`, requires a client certificate signed by its CA (mTLS), and pipes the HTTP/2 bytes to the
 * server unchanged. Lets tests configure `TEMPORAL_TLS_CERT`/`_KEY`/`_CA` and `TEMPORAL_API_KEY` as in
 * production. Certificates come from the `openssl` command line, made fresh in `dir`.
 */
export interface TlsFront { address: string; caPath: string; certPath: string; keyPath: string; handshakes: () => number; close(): Promise<void> }

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all in `dir`. */
export function makeCertificates(dir: string): { ca: string; caKey: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string } {
  const p = (f: string) => join(dir, f);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=tessel-test-ca', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'], ['client', 'extendedKeyUsage=clientAuth']]) {
    writeFileSync(p(`${name}.ext`), `basicConstraints=CA:FALSE\n${ext}\n`);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=tessel-test-${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  }
  return { ca: p('ca.pem'), caKey: p('ca.key'), serverCert: p('server.pem'), serverKey: p('server.key'), clientCert: p('client.pem'), clientKey: p('client.key') };
}

/** Starts the TLS front for `target` (host:port of a plaintext gRPC server). */
export async function startTlsFront(target: string, dir: string): Promise<TlsFront> {
  const certs = makeCertificates(dir);
  const [host, port] = target.split(':');
  let handshakes = 0;
  const server: Server = createServer({
    key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert), ca: readFileSync(certs.ca),
    requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'],
  }, (tlsSocket) => {
    handshakes++;
    const upstream = connect(Number(port), host);
    tlsSocket.pipe(upstream).pipe(tlsSocket);
    const end = () => {
      tlsSocket.destroy();
      upstream.destroy();
    };
    tlsSocket.on('error', end);
    upstream.on('error', end);
    tlsSocket.on('close', end);
    upstream.on('close', end);
  });
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    caPath: certs.ca, certPath: certs.clientCert, keyPath: certs.clientKey,
    handshakes: () => handshakes,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}
